/**
 * @module
 * The seam between the subscriber and its transports: a `Link` is one connection to the
 * server, over a WebSocket or a Server-Sent Events stream, that authenticates, joins and
 * hands on what it receives; the subscriber only opens links, waits for them to open and to
 * close, and decides what comes next. Types only.
 */

import type { BroadcastFrame, CloseInfo } from "./connection.ts";
import type { BoreasSubscriberError } from "./errors.ts";
import type { MemberLists, MembershipEvent } from "./members.ts";
import type { SubscriberSettings } from "./policy.ts";
import type { Positions } from "./positions.ts";
import type { RecoveryEvent } from "./subscriber_types.ts";

/** What a link gets from its subscriber. */
export interface LinkContext {
  readonly settings: SubscriberSettings;
  /** The channels to be in once open. */
  readonly channels: readonly string[];
  /** Read for the positions to resume after; updated by the link as join replies, recovery
   * events and event ids say where each channel stands. Broadcasts are left to
   * `onBroadcast`. */
  readonly positions: Positions;
  /** Called with each broadcast received, in order. */
  readonly onBroadcast: (frame: BroadcastFrame) => void;
  /** Called for each channel that could not be resumed, before any of its frames that follow. */
  readonly onRecovery: (event: RecoveryEvent) => void;
  /** Updated by the link with every member list and every `joined` and `left` received, and
   * emptied of the channels it leaves. */
  readonly members: MemberLists;
  /** Called with each of those, once applied to `members`, in order with the broadcasts. */
  readonly onMembership: (event: MembershipEvent) => void;
}

/** One connection to the server, from opening to closed. `join()` and `leave()` reject with
 * `ReplyError` when the server refuses, with `ConnectionLostError` when the link closes (or
 * is taken for dead) first, and with a `BoreasSubscriberError` when the refusal ends the link
 * (its `error`). */
export interface Link {
  /** Resolves true once authenticated and in its channels, false when it closed first. */
  readonly opened: Promise<boolean>;
  /** Resolves once closed, with how, when every resource it held is released. */
  readonly closed: Promise<CloseInfo>;
  /** Why the link closed when no reconnect can help (the token or the channels were
   * refused); undefined otherwise. Set by the time `closed` resolves. */
  readonly error: BoreasSubscriberError | undefined;
  /** Whether the server answered over it at all: over a WebSocket, a reply to the token came
   * (accepted or refused); over SSE, an HTTP answer came. What `transport: "auto"` counts: a
   * WebSocket that closes without one failed to open, even when its handshake went through
   * (a proxy that passes the upgrade and nothing after it). Final by the time `closed`
   * resolves. */
  readonly wasAnswered: boolean;
  join(channels: readonly string[]): Promise<void>;
  leave(channels: readonly string[]): Promise<void>;
  /** Publishes `payload` to `channel`; resolves on the server's ok, with the offset it was
   * given when the server keeps history. */
  publish(channel: string, payload: unknown): Promise<{ offset?: number }>;
  /** Starts closing with `code` and `reason`, which `closed` then reports. */
  close(code: number, reason: string): void;
}
