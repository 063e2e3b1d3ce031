/**
 * @module
 * One subscriber's server side, whatever the wire: its identity (token, grant, user), its
 * channels, joins with history, close handling and webhook events. The hub sees the session;
 * the session reaches the client only through its `Wire`, which a transport (WebSocket, SSE)
 * provides. Client messages are answered by the handler table in handlers.ts.
 */

import { checkAccessToken } from "../access.ts";
import { clientReason } from "../backend/errors.ts";
import { GrantKeeper } from "../grant_keeper.ts";
import { grantsChannel, type TokenGrant } from "../grants.ts";
import type { Position, Resume } from "../backend/history.ts";
import type { Subscriber } from "../hub.ts";
import type { LogFields } from "../log.ts";
import type { MemberRoster } from "../backend/members.ts";
import { CLOSE, type CloseSpec } from "../protocol.ts";
import { JoinGate } from "../resume.ts";
import { errorMessage, utf8LengthOver } from "../text.ts";
import { mintToken, tokenFingerprint } from "../tokens.ts";
import { ConnectionEvents } from "../webhooks/events.ts";
import type { SessionContext } from "./context.ts";

/** What a wire's write did: the frame went out (or was queued), the wire is gone, or its
 * client has too much unread (`overflowBytes` of it) and must be dropped as a slow consumer. */
export type WriteResult = "sent" | "closed" | { readonly overflowBytes: number };

/** The transport's side of a session: bytes on the wire, no rules. */
export interface Wire {
  /** Writes one frame (a broadcast names its channel, and its offset with history on). */
  write(frame: string, channel?: string, offset?: number): WriteResult;
  /** Starts closing the wire with `code` and `reason`; the transport then calls
   * `Session.closed` once it has ended. */
  close(code: number, reason: string): void;
}

/** A join as a session applies it: channels to join, then leave, and positions to resume. */
export interface JoinRequest {
  readonly join: readonly string[];
  readonly leave: readonly string[];
  readonly since?: ReadonlyMap<string, Position>;
}

/** How a join ended: refused with `error`, or done, with each joined channel's position when
 * history is on (`resume.states`), and the members of each joined channel with join and leave
 * events. */
export type JoinOutcome =
  | { readonly error: string }
  | { readonly resume: Resume; readonly members: ReadonlyMap<string, MemberRoster> };

const NO_MEMBERS: ReadonlyMap<string, MemberRoster> = new Map();
const NO_RESUME: Resume = Object.freeze({ states: new Map(), replay: [] });

/** How a publication ended: refused with `error`, or delivered, at `offset` with history on. */
export type PublishOutcome = { readonly error: string } | { readonly offset?: number };

/** One subscriber's session. */
export class Session implements Subscriber {
  readonly #wire: Wire;
  readonly #context: SessionContext;
  readonly #grant = new GrantKeeper();
  // Live frames held back while a join with history or members is answered and replayed;
  // none without either, so that a delivery does not look at it.
  readonly #joins: JoinGate | null;
  readonly #events: ConnectionEvents;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #isClosed = false;

  constructor(wire: Wire, context: SessionContext) {
    this.#wire = wire;
    this.#context = context;
    this.#joins = context.history === null && context.members === null ? null : new JoinGate();
    this.#events = new ConnectionEvents(context.events, context.nodeId);
  }

  /** What every session shares. */
  get context(): SessionContext {
    return this.#context;
  }

  /** Joins the hub, anonymous. Unless `hasToken` (its transport authenticates it at once),
   * with `--no-require-auth` it is authenticated with a generated token; otherwise, when
   * `authTimeoutMs` is above 0, it is closed with 4003 unless it authenticates within that
   * time. Returns false, closing the wire, during a shutdown. */
  open(
    { authTimeoutMs = 0, hasToken = false }: { authTimeoutMs?: number; hasToken?: boolean } = {},
  ): boolean {
    const { hub, requireAuth, tracker, logger } = this.#context;
    const closing = tracker.closing();
    if (closing !== undefined) {
      this.#wire.close(closing.code, closing.reason);
      return false;
    }
    hub.add(this);
    if (hasToken) {
      // Its transport authenticates it next.
    } else if (!requireAuth) {
      const token = mintToken();
      hub.authenticate(this, token);
      this.#announce(token);
    } else if (authTimeoutMs > 0) {
      this.#authTimer = setTimeout(() => this.#onAuthTimeout(), authTimeoutMs);
    }
    logger.debug("connection opened");
    return true;
  }

  /** Whether the session has authenticated. */
  get isAuthenticated(): boolean {
    return this.#context.hub.isAuthenticated(this);
  }

  /** The user its token names, if any. */
  get user(): string | null {
    return this.#grant.user;
  }

  /** Hands a broadcast to the wire, unless a join in progress holds it or the client already
   * has it. */
  send(frame: string, channel?: string, offset?: number): boolean {
    if (this.#joins?.intercept(frame, channel, offset)) return true;
    return this.write(frame, channel, offset);
  }

  /** Writes `frame` to the wire now, past any join in progress (a reply); a client with too
   * much unread is dropped as a slow consumer. */
  write(frame: string, channel?: string, offset?: number): boolean {
    if (this.#isClosed) return false;
    const result = this.#wire.write(frame, channel, offset);
    if (typeof result === "object") {
      this.#context.metrics.slowConsumersDropped++;
      this.closeFor(CLOSE.slowConsumer, "dropping slow consumer", {
        level: "warn",
        bufferedBytes: result.overflowBytes,
      });
    }
    return result === "sent";
  }

  /** Starts closing the wire. */
  close(code: number, reason: string): void {
    clearTimeout(this.#authTimer);
    this.#wire.close(code, reason);
  }

  /** Checks `token` and authenticates with it; resolves to why it was refused, or undefined.
   * On refusal the session stays as it was: anonymous, or authenticated with its last token. */
  async authenticate(token: string, checked?: TokenGrant): Promise<string | undefined> {
    const { hub, membership } = this.#context;
    let grant = checked;
    if (grant === undefined) {
      const access = await checkAccessToken(token, this.#context);
      if (!access.ok) return access.error;
      grant = access.grant;
    }
    if (!hub.authenticate(this, token, grant.user)) return "connection is closing";
    clearTimeout(this.#authTimer);
    this.#context.tracker.authenticated(this);
    this.#grant.set(grant, () => this.closeFor(CLOSE.expired, "token expired", { level: "info" }));
    // A narrower token than the last one: leave what it does not grant.
    const denied = this.#grant.denied(hub.sessionOf(this)?.channels ?? []);
    if (denied.length > 0) hub.updateChannels(this, [], denied);
    this.#announce(token);
    await membership.synced();
    return undefined;
  }

  /** Joins, then leaves, channels. With history on, or members to list, live frames are held
   * from the join on; `answer` is called with the outcome (for the transport's reply), and
   * then the replay goes out, then the held frames the replay did not cover. */
  async join(request: JoinRequest, answer: (outcome: JoinOutcome) => void): Promise<void> {
    const { history, members } = this.#context;
    const tracked = members === null
      ? []
      : [...new Set(request.join.filter((channel) => members.tracks(channel)))];
    if (history === null && tracked.length === 0) {
      const error = await this.#updateChannels(request);
      return answer(error === undefined ? { resume: NO_RESUME, members: NO_MEMBERS } : { error });
    }
    const { hub, membership, logger } = this.#context;
    this.#joins!.hold();
    const before = new Set(hub.sessionOf(this)?.channels ?? []);
    let resume: Resume = NO_RESUME;
    try {
      const error = await this.#updateChannels(request);
      if (error !== undefined) return answer({ error });
      const joined = hub.sessionOf(this)?.channels ?? new Set<string>();
      let lists = NO_MEMBERS;
      try {
        [resume, lists] = await Promise.all([
          history?.resume(request.join.filter((c) => joined.has(c)), request.since) ?? NO_RESUME,
          members?.list(tracked.filter((channel) => joined.has(channel))) ?? NO_MEMBERS,
        ]);
      } catch (error) {
        // Without positions or members the join cannot keep its promise: undo it, and say why.
        resume = NO_RESUME;
        hub.updateChannels(this, [], request.join.filter((channel) => !before.has(channel)));
        await membership.synced();
        logger.warn("join not answered", { error: errorMessage(error) });
        return answer({ error: `channels.join: cannot be joined now (${clientReason(error)})` });
      }
      answer({ resume, members: lists });
    } finally {
      this.#joins!.release(resume, (frame, channel, offset) => this.send(frame, channel, offset));
    }
  }

  /** Publishes `payload` to `channel` for this session's user, to every subscriber but this
   * session, once the session may: it has joined the channel, its token (or, without
   * required authentication, `--client-publish`) lets it publish there, and the publish hook,
   * if any, accepts it (maybe with another payload). Resolves once the message is delivered on
   * this node (and, in cluster mode, published to the others). */
  async publish(channel: string, payload: unknown): Promise<PublishOutcome> {
    const { broker, metrics, limits, publishHook } = this.#context;
    const refusal = this.#publishRefusal(channel);
    if (refusal !== null) return { error: refusal };
    const token = this.#context.hub.sessionOf(this)!.token!;
    let text = JSON.stringify(payload);
    const bytes = utf8LengthOver(text, limits.maxPublishBytes);
    if (bytes !== null) {
      return { error: `publish: payload of ${bytes} bytes, more than ${limits.maxPublishBytes}` };
    }
    if (publishHook !== null) {
      const verdict = await publishHook.check({
        channel,
        text,
        user: this.user,
        tokenFingerprint: tokenFingerprint(token),
      });
      if ("error" in verdict) return { error: `publish: ${verdict.error}` };
      text = verdict.text;
      // The backend took its time: the session may have been closed, blocked, moved out of
      // the channel or re-authenticated meanwhile, and then nothing goes out.
      const lateRefusal = this.#isClosed
        ? "publish: connection closed"
        : this.#publishRefusal(channel);
      if (lateRefusal !== null) return { error: lateRefusal };
    }
    let position: Position | undefined;
    try {
      ({ position } = await broker.publish(channel, text, { user: this.user, except: this }));
    } catch (error) {
      this.#context.logger.warn("publication not sent", { error: errorMessage(error) });
      return { error: `publish: cannot be sent now (${clientReason(error)})` };
    }
    metrics.clientPublications++;
    return position === undefined ? {} : { offset: position.offset };
  }

  /** Why this session may not publish to `channel` now, or null when it may. */
  #publishRefusal(channel: string): string | null {
    const { hub, requireAuth, clientPublish } = this.#context;
    const view = hub.sessionOf(this);
    if (view === undefined || view.token === null) return "publish: authenticate first";
    if (!view.channels.has(channel)) return "publish: join the channel first";
    const isAllowed = grantsChannel(this.#grant.publish, channel) ||
      (!requireAuth && grantsChannel(clientPublish, channel));
    return isAllowed ? null : "publish: not permitted by this token";
  }

  /** Applies a join to the hub; resolves to why it was refused, or undefined, once the cluster
   * sees the change. */
  async #updateChannels(request: JoinRequest): Promise<string | undefined> {
    const { hub, limits, membership } = this.#context;
    const denied = this.#grant.firstDenied(request.join);
    if (denied !== -1 && hub.isAuthenticated(this)) {
      return `channels.join[${denied}]: not permitted by this token`;
    }
    const max = limits.maxChannelsPerConnection;
    switch (hub.updateChannels(this, request.join, request.leave, max)) {
      case "ok":
        await membership.synced();
        return undefined;
      case "unauthenticated":
        return "channels: authenticate first";
      case "too-many-channels":
        return `channels.join: at most ${max} channels per connection`;
    }
  }

  /** Forgets the session at once, logs why, and starts closing the wire. */
  closeFor(
    { code, reason }: CloseSpec,
    message: string,
    { level, ...fields }: { level: "info" | "warn" } & LogFields,
  ): void {
    this.#context.logger[level](message, { code, reason, ...fields });
    this.#context.hub.remove(this);
    this.close(code, reason);
  }

  /** Closes the session for a per-connection limit, counted in the metrics. */
  closeForLimit(close: CloseSpec): void {
    this.#context.metrics.connectionsClosedForLimits++;
    this.closeFor(close, "closing connection", { level: "info" });
  }

  /** Called by the transport once its wire has ended: forgets the session everywhere and
   * tells the webhooks. Calling it again does nothing. */
  closed(code: number, reason: string): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#authTimer);
    this.#grant[Symbol.dispose]();
    this.#context.hub.remove(this);
    this.#context.tracker.forget(this);
    this.#context.logger.debug("connection closed", { code });
    this.#events.closed(code, reason);
  }

  /** Logs the authentication and tells the webhooks. */
  #announce(token: string): void {
    const fingerprint = tokenFingerprint(token);
    this.#context.logger.debug("connection authenticated", { token: fingerprint });
    this.#events.authenticated(fingerprint, this.#grant.user);
  }

  #onAuthTimeout(): void {
    this.#authTimer = undefined;
    if (this.#isClosed || this.isAuthenticated) return;
    this.closeForLimit(CLOSE.authTimeout);
  }
}
