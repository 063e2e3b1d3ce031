/**
 * @module
 * What a node shares with the others, whichever backend holds it: one interface per concern
 * (broker, tokens, users, membership, members, history, event cache), composed by
 * `composeBackend` (compose.ts). The API, the sessions and the transports use a `Backend` and
 * never know which one runs.
 */

import type { Config } from "../config.ts";
import type { Hub } from "../hub.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Block } from "../blocks.ts";
import type { TokenGrant } from "../grants.ts";
import type { BlockJournal, TokenJournal } from "../token_journal.ts";
import type { EventSink } from "../webhooks/events.ts";
import type { Broker } from "./broker.ts";
import type { EventCache } from "./event_cache.ts";
import type { History } from "./history.ts";
import type { Members, MembersOptions } from "./members.ts";
import type { Membership } from "./membership.ts";
import type { TokenRegistry } from "./tokens.ts";
import type { UserControl } from "./users.ts";
import type { RedisConfig } from "./redis_target.ts";

export { BackendUnavailableError, clientReason } from "./errors.ts";

/** The state every node shares, and its health. */
export interface Backend {
  readonly tokens: TokenRegistry;
  /** Closing users' connections and blocking them, on every node. */
  readonly users: UserControl;
  readonly broker: Broker;
  readonly membership: Membership;
  /** The channels' kept messages (`--history-size`), or null when history is off. */
  readonly history: History | null;
  /** Who is in the channels with join and leave events, or null when none has them. */
  readonly members: Members | null;
  /** Starts following the members of another format's channels (a Pusher app's presence
   * channels), kept apart from the others under `kind` (see `RedisKeys.memberChannels`);
   * closed with the cluster. */
  addMembers(kind: string, options: MembersOptions): Members;
  /** The last frame of the channels that keep one (a Pusher app's `cache-` channels). */
  readonly cache: EventCache;
  /** This node's id: `--node-id`, or generated per process; standalone too. */
  readonly nodeId: string;
  /** What is wrong with the shared state, one `<backend>: ...` message each; empty when
   * healthy (always, standalone). */
  problems(): string[];
  /** What clients, and `/health` asked without the API key, are told while there are
   * problems: `<backend>: unavailable`. */
  readonly unavailableReason: string;
  /** Says a shutdown has begun: the other nodes go on counting this node's connections as
   * they were while they are closed, until `close()` removes them with the node at once. */
  startLeaving(): void;
  /** Leaves the cluster and closes its connections. Call after every WebSocket is closed. */
  close(): Promise<void>;
}

/** What `composeBackend` needs besides the configuration. */
export interface BackendDeps {
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Tokens valid from the start (a provider's and, standalone, the token store's). */
  readonly tokens: Iterable<string>;
  /** Standalone only: where token changes and blocks are kept. */
  readonly journal?: (TokenJournal & BlockJournal) | undefined;
  /** Standalone only: what the startup tokens minted with grants grant. */
  readonly grants?: ReadonlyMap<string, TokenGrant> | undefined;
  /** Standalone only: the users blocked at startup (the token store's). */
  readonly blocks?: ReadonlyMap<string, Block> | undefined;
  /** Where channel.occupied and channel.vacated go; none when webhooks are off. */
  readonly events?: EventSink | undefined;
}

/** The options every backend reads. */
export type BackendConfig =
  & RedisConfig
  & Pick<
    Config,
    | "redisPrefix"
    | "nodeId"
    | "nodeTimeout"
    | "historySize"
    | "historyTtl"
    | "historyMaxBytes"
    | "webhookVacateDelay"
    | "joinLeave"
    | "leaveDelay"
    | "maxMembersListed"
  >;

/** What every backend is built with, besides the configuration: the deps and this node's
 * id and members' options, worked out once. */
export interface BackendParts {
  readonly nodeId: string;
  readonly membersOptions: MembersOptions;
}
