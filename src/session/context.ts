/**
 * @module
 * What every session shares, and what it is held to: built once per server and handed to each
 * subscriber's session, whatever its transport. Types only.
 */

import type { Broker } from "../backend/broker.ts";
import type { Membership } from "../backend/membership.ts";
import type { History } from "../backend/history.ts";
import type { PublishHook } from "../hooks/publish_hook.ts";
import type { Hub } from "../hub.ts";
import type { JwtVerifier } from "../jwt.ts";
import type { Logger } from "../log.ts";
import type { Members } from "../backend/members.ts";
import type { Metrics } from "../metrics.ts";
import type { CloseSpec } from "../protocol.ts";
import type { TokenRegistry } from "../backend/tokens.ts";
import type { BlockCheck } from "../backend/users.ts";
import type { EventSink } from "../webhooks/events.ts";

/** Limits on what one connection may do. */
export interface ConnectionLimits {
  /** Largest frame a client may send, in bytes; past it the socket is closed with 1009. */
  readonly maxFrameBytes: number;
  /** Channels one connection may be in at once. */
  readonly maxChannelsPerConnection: number;
  /** Frames a client may send per second; past it the socket is closed with 1008. */
  readonly maxClientMessagesPerSecond: number;
  /** Bytes queued to the client before it is dropped as a slow consumer (1008). */
  readonly maxBufferedBytes: number;
  /** How long a connection may stay anonymous, in milliseconds; 0 for no limit. */
  readonly authTimeoutMs: number;
  /** Largest payload of a client's publication, in bytes of JSON. */
  readonly maxPublishBytes: number;
}

/** The endpoint that tracks every connection, to bound them and close them at shutdown. */
export interface ConnectionTracker {
  /** The close to apply at once to a socket that opens after shutdown started. */
  closing(): CloseSpec | undefined;
  /** Stops counting a session as anonymous: it has authenticated. */
  authenticated(session: { close(code: number, reason: string): void }): void;
  /** Stops tracking a closed session. */
  forget(session: { close(code: number, reason: string): void }): void;
}

/** What every session shares: built once per server, so a connection costs little. */
export interface SessionContext {
  readonly tracker: ConnectionTracker;
  readonly hub: Hub;
  readonly tokens: TokenRegistry;
  /** Which users are blocked: their tokens and JWTs are refused. */
  readonly blocks: BlockCheck;
  /** Told of every change a session makes; a reply waits until the cluster sees it. */
  readonly membership: Membership;
  /** The channels' history, or null when it is off: then joins are answered as they always
   * were. */
  readonly history: History | null;
  /** Who is in the channels with join and leave events (`--join-leave`); null when none
   * has them. */
  readonly members: Members | null;
  /** Checks JWT access tokens; null when no JWT key is configured. */
  readonly jwt: JwtVerifier | null;
  /** Told when connections authenticate and close (the webhooks). */
  readonly events: EventSink;
  /** This node's id, for the events. */
  readonly nodeId: string;
  /** When false, every connection is authenticated with a generated token as it opens. */
  readonly requireAuth: boolean;
  readonly limits: ConnectionLimits;
  /** Where clients' publications go. */
  readonly broker: Broker;
  /** With `requireAuth` off: the channel patterns any connection may publish to. */
  readonly clientPublish: readonly string[];
  /** Asks the backend about each publication before it is delivered; null: no hook. */
  readonly publishHook: PublishHook | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
