/**
 * @module
 * The chat part's side of the load generator (`load.ts`): subscribers that also publish. The
 * pool remembers which subscribers joined each channel; a client publication to a channel is
 * sent by one of them, picked at random, over its own WebSocket, as a chat client sends a
 * message to its room: `{"publish": {"channel": C, "payload": P}, "ref": N}`. The server
 * delivers it to the channel's other subscribers and answers the sender
 * `{"ref": N, "ok": true}` (or an error).
 */

import type { Publish, PublishAnswer } from "./publishing.ts";
import { SubscriberPool } from "./subscribers.ts";

/** Subscribers that publish over their WebSockets. */
export class ChatPool extends SubscriberPool {
  readonly #membersOf = new Map<string, WebSocket[]>();
  /** What answers each publication awaiting its reply, by `ref`. */
  readonly #awaiting = new Map<number, (answer: PublishAnswer | undefined) => void>();
  #nextRef = 1;

  /** Publishes as a subscriber of the channel: with `withRef`, resolves to the server's reply;
   * without, the message carries no `ref`, nothing answers it, and it resolves to `ok` once
   * sent. Resolves to undefined when nobody here joined the channel. */
  publisher({ withRef }: { withRef: boolean }): Publish {
    return (channel, payload) => {
      const members = this.#membersOf.get(channel);
      if (members === undefined) return Promise.resolve(undefined);
      const socket = members[Math.floor(Math.random() * members.length)]!;
      const publish = `{"publish": {"channel": ${JSON.stringify(channel)}, "payload": ${payload}}`;
      if (!withRef) {
        socket.send(`${publish}}`);
        return Promise.resolve({ ok: true });
      }
      const ref = this.#nextRef++;
      socket.send(`${publish}, "ref": ${ref}}`);
      return new Promise((resolve) => this.#awaiting.set(ref, resolve));
    };
  }

  override async closeAll(): Promise<void> {
    this.#membersOf.clear();
    for (const answer of this.#awaiting.values()) answer(undefined);
    this.#awaiting.clear();
    await super.closeAll();
  }

  protected override joined(socket: WebSocket, { channel }: { channel: string }): void {
    const members = this.#membersOf.get(channel);
    if (members === undefined) this.#membersOf.set(channel, [socket]);
    else members.push(socket);
  }

  protected override answered(frame: string): void {
    let reply: PublishAnswer;
    try {
      reply = JSON.parse(frame);
    } catch {
      return;
    }
    if (typeof reply.ref !== "number") return;
    const answer = this.#awaiting.get(reply.ref);
    this.#awaiting.delete(reply.ref);
    answer?.(reply);
  }
}
