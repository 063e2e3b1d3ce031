/**
 * @module
 * Who is connected where: the cluster-wide counts the API answers with (recipients, the token
 * lists, the recipient dump, `/stats`, `/nodes/`) and the live nodes. The interface every
 * backend implements (memory_membership.ts, redis_membership.ts) and the node reports.
 */

import type { Hub, HubSnapshot, Presence } from "../hub.ts";
import { Metrics } from "../metrics.ts";

/** The counters each node reports, by their `/stats` names. */
export interface NodeCounters {
  readonly "messages_published": number;
  readonly "client_publications": number;
  readonly "frames_delivered": number;
  readonly "slow_consumers_dropped": number;
  readonly "connections_refused": number;
  readonly "connections_closed_for_limits": number;
  readonly "webhook_events_dropped": number;
}

/** What one node reports of itself: its id and when, its own connections and channels, and
 * its counters. */
export interface NodeReport extends NodeCounters {
  readonly id: string;
  /** When the node counted its counters, in seconds since the epoch (by its own clock). */
  readonly "reported_at": number;
  readonly connections: { readonly anonymous: number; readonly authenticated: number };
  readonly channels: number;
  /** `host:port` of the Redis server the node sends its commands to (with Sentinel, the
   * master it follows); absent standalone. */
  readonly redis?: string;
  /** Its open connections of each Pusher app, by app id (as of `reported_at`); absent
   * without apps. */
  readonly pusher?: Readonly<Record<string, number>>;
}

/** One reading of the cluster: the nodes it counted and what they add up to. Every figure
 * is of exactly the nodes in `nodes`. */
export interface Census {
  /** The nodes counted, this one first: each with its connections and channels as of the
   * reading, and its counters as of `reported_at`. */
  readonly nodes: readonly NodeReport[];
  /** Their connections and channels, in the recipient dump's shape. */
  readonly hub: HubSnapshot;
  /** Their counters, summed. */
  readonly counters: NodeCounters;
}

/** Cluster-wide membership. Every query rejects with `BackendUnavailableError` when the
 * shared state cannot be read. */
export interface Membership {
  /** How many connections have joined `channel`, on every live node. */
  recipients(channel: string): Promise<number>;
  /** Anonymous connections, tokens in use and channels with subscribers, summed over the
   * live nodes, in the recipient dump's shape. */
  snapshot(): Promise<HubSnapshot>;
  /** The distinct tokens of `channel`'s connections on every live node. */
  channelTokens(channel: string): Promise<string[]>;
  /** `channel`'s connections on every live node, and the distinct users holding them. */
  presence(channel: string): Promise<Presence>;
  /** The live nodes and their figures, read at one instant (`/stats`, `/nodes/`). */
  census(): Promise<Census>;
  /** How many connections are authenticated with a token naming `user`, on every live node
   * (the other nodes' as their last mirrored change shows them). */
  userConnections(user: string): Promise<number>;
  /** Resolves once every hub change made before the call is visible to the other nodes (or,
   * when Redis is unreachable, will be made visible when it is back). Never rejects. */
  synced(): Promise<void>;
}

/** This node's counters, as `/stats` names them. */
export function countersOf(metrics: Metrics): NodeCounters {
  return {
    messages_published: metrics.messagesPublished,
    client_publications: metrics.clientPublications,
    frames_delivered: metrics.framesDelivered,
    slow_consumers_dropped: metrics.slowConsumersDropped,
    connections_refused: metrics.connectionsRefused,
    connections_closed_for_limits: metrics.connectionsClosedForLimits,
    webhook_events_dropped: metrics.webhookEventsDropped,
  };
}

/** What node `id` reports of itself, read from its hub and counters, with the Redis server it
 * uses now (none standalone, or while it has none). */
export function nodeReportOf(
  id: string,
  { hub, metrics, redis = null }: { hub: Hub; metrics: Metrics; redis?: string | null },
): NodeReport {
  return {
    id,
    reported_at: Date.now() / 1000,
    connections: {
      anonymous: hub.anonymousCount,
      authenticated: hub.connectionCount - hub.anonymousCount,
    },
    channels: hub.channelCount,
    ...countersOf(metrics),
    ...(redis === null ? {} : { redis }),
    ...(metrics.pusherConnections.size === 0
      ? {}
      : { pusher: Object.fromEntries(metrics.pusherConnections) }),
  };
}

/** Each Pusher app's open connections on `reports`' nodes, summed, as `/stats` gives them;
 * null when no node serves an app. */
export function sumPusherConnections(
  reports: readonly NodeReport[],
): Record<string, { connections: number }> | null {
  let apps: Record<string, { connections: number }> | null = null;
  for (const { pusher } of reports) {
    for (const [id, connections] of Object.entries(pusher ?? {})) {
      apps ??= {};
      apps[id] = { connections: (apps[id]?.connections ?? 0) + connections };
    }
  }
  return apps;
}

/** The counters of `reports`, summed. */
export function sumCounters(reports: readonly NodeCounters[]): NodeCounters {
  const sum: Record<keyof NodeCounters, number> = { ...countersOf(new Metrics(0)) };
  const names = Object.keys(sum) as Array<keyof NodeCounters>;
  for (const report of reports) for (const name of names) sum[name] += report[name];
  return sum;
}
