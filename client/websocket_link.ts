/**
 * @module
 * A `Link` over one WebSocket: authenticates with the token, joins the channels (resuming each
 * after its position), reports the channels the join reply says were not resumed and the
 * members it lists, and turns
 * the refusals that no reconnect can fix into the link's error. Knows nothing of back-off.
 */

import { CLIENT_CLOSE, type CloseInfo, Connection, ReplyError } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import type { Link, LinkContext } from "./link.ts";
import { isTemporaryRefusal } from "./policy.ts";
import { rejectionOf } from "./state.ts";

/** One WebSocket, from its handshake to its close. */
export class WebSocketLink implements Link {
  readonly #context: LinkContext;
  readonly #connection: Connection;
  #error: BoreasSubscriberError | undefined;
  #wasAnswered = false;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<CloseInfo>;

  /** Drives `socket`, just made and not yet open; it is the link's to close. */
  constructor(socket: WebSocket, context: LinkContext) {
    this.#context = context;
    this.#connection = new Connection(socket, {
      replyTimeoutMs: context.settings.replyTimeoutMs,
      onBroadcast: context.onBroadcast,
      onMemberEvent: (event) => {
        context.members.apply(event);
        context.onMembership(event);
      },
    });
    this.closed = this.#connection.closed;
    this.opened = this.#open();
  }

  get error(): BoreasSubscriberError | undefined {
    return this.#error;
  }

  get wasAnswered(): boolean {
    return this.#wasAnswered;
  }

  join(channels: readonly string[]): Promise<void> {
    const { positions, onRecovery, members, onMembership } = this.#context;
    const since = positions.since(channels);
    const join = [...channels];
    const request = since === undefined ? { join, leave: [] } : { join, leave: [], since };
    return this.#connection.request({ channels: request }, {
      // Before any frame after the reply: what it says applies to them.
      onReply: (reply) => {
        for (const event of positions.applyJoinReply(join, since, reply)) onRecovery(event);
        for (const event of members.applyJoinReply(join, reply)) onMembership(event);
      },
    });
  }

  leave(channels: readonly string[]): Promise<void> {
    return this.#connection.request({ channels: { join: [], leave: [...channels] } }, {
      onReply: () => {
        this.#context.positions.forget(channels);
        this.#context.members.forget(channels);
      },
    });
  }

  async publish(channel: string, payload: unknown): Promise<{ offset?: number }> {
    let offset: number | undefined;
    await this.#connection.request({ publish: { channel, payload } }, {
      onReply: (reply) => {
        if (typeof reply.offset === "number") offset = reply.offset;
      },
    });
    return offset === undefined ? {} : { offset };
  }

  close(code: number, reason: string): void {
    this.#connection.close(code, reason);
  }

  async #open(): Promise<boolean> {
    try {
      return await this.#handshake();
    } catch (error) {
      // The server refused the token or the channels: trying again would not help.
      this.#error = error instanceof BoreasSubscriberError
        ? error
        : new BoreasSubscriberError("disconnected", String(error), { cause: error });
      this.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
      return false;
    }
  }

  /** Authenticates and joins; false when the connection was lost on the way, or closed to
   * retry later. */
  async #handshake(): Promise<boolean> {
    if (!(await this.#connection.opened)) return false;
    const { token } = this.#context.settings;
    const refusal = await rejectionOf(this.#connection.request({ "access_token": token }));
    this.#wasAnswered = refusal === undefined || refusal instanceof ReplyError;
    if (refusal instanceof ReplyError && isTemporaryRefusal(refusal.message)) {
      return this.#retryLater();
    }
    if (refusal instanceof ReplyError) {
      throw new BoreasSubscriberError("auth-rejected", refusal.message, { cause: refusal });
    }
    if (refusal !== undefined) return false;
    const { channels } = this.#context;
    if (channels.length === 0) return true;
    const failure = await rejectionOf(this.join(channels));
    if (failure instanceof ReplyError && isTemporaryRefusal(failure.message)) {
      return this.#retryLater();
    }
    if (failure instanceof ReplyError) {
      throw new BoreasSubscriberError("rejected", failure.message, { cause: failure });
    }
    return failure === undefined;
  }

  /** Gives up on this connection for now: the server could not act, so the subscriber
   * connects again after its back-off. */
  #retryLater(): false {
    this.close(CLIENT_CLOSE.code, "server busy; retrying");
    return false;
  }
}
