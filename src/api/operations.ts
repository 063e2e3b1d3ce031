/**
 * @module
 * What operators poll: `/health` (public, for load balancers), `/stats` (JSON, for the whole
 * cluster and for this node), `/nodes` (each live node's own counts) and `/metrics` (Prometheus
 * text format, this node's). `/stats` and `/nodes` each answer from one census of the live
 * nodes, so the nodes they list are exactly the ones they count.
 */

import type { HubSnapshot } from "../hub.ts";
import { type Gauges, renderPrometheus } from "../metrics.ts";
import { type NodeReport, sumPusherConnections } from "../backend/membership.ts";
import { ApiKeyCheck } from "./api_key.ts";
import type { ApiContext } from "./context.ts";
import { jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

function hasApiKey(keys: ApiKeyCheck, request: Request): boolean {
  try {
    keys.verify(request);
    return true;
  } catch {
    return false;
  }
}

/** The health, stats, nodes and metrics routes. */
export function operationsRoutes(context: ApiContext): Route[] {
  const { metrics, cluster } = context;
  const keys = new ApiKeyCheck(context.apiKeys);
  return [
    {
      method: "GET",
      path: "/health",
      isPublic: true,
      handler: ({ request }) => {
        if (context.isShuttingDown()) return jsonResponse({ status: "shutting down" }, 503);
        const errors = cluster.problems();
        if (errors.length === 0) return jsonResponse({ status: "ok" });
        // Public: the detail (Redis's address and words) only for holders of the API key.
        const isDetailShown = context.apiKeys.length > 0 && hasApiKey(keys, request);
        return jsonResponse(
          { status: "degraded", errors: isDetailShown ? errors : [cluster.unavailableReason] },
          503,
        );
      },
    },
    {
      method: "GET",
      path: "/stats",
      handler: async () => {
        const [census, tokens] = await Promise.all([
          cluster.membership.census(),
          cluster.tokens.count(),
        ]);
        const gauges = readGauges(context, tokens);
        return jsonResponse({
          connections: connectionsOf(census.hub),
          tokens,
          channels: census.hub.channels.length,
          ...census.counters,
          uptime_seconds: gauges.uptimeSeconds,
          memory: { rss_bytes: gauges.residentMemoryBytes, heap_used_bytes: heapUsed() },
          node: census.nodes[0],
          nodes: census.nodes.map(({ id }) => id),
          ...pusherStats(census.nodes),
        });
      },
    },
    {
      method: "GET",
      path: "/nodes",
      handler: async () => jsonResponse({ nodes: (await cluster.membership.census()).nodes }),
    },
    {
      method: "GET",
      path: "/metrics",
      handler: async () => {
        // Still answered while Redis is down, without the cluster's token count.
        const tokens = await cluster.tokens.count().catch(() => null);
        return new Response(renderPrometheus(metrics, readGauges(context, tokens)), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      },
    },
  ];
}

function connectionsOf(snapshot: HubSnapshot): { anonymous: number; authenticated: number } {
  const authenticated = snapshot.tokens.reduce((sum, [, connections]) => sum + connections, 0);
  return { anonymous: snapshot.anonymous, authenticated };
}

/** This node's gauges, with the cluster's token count when it is known. */
function readGauges({ hub, cluster, metrics }: ApiContext, tokens: number | null): Gauges {
  return {
    anonymousConnections: hub.anonymousCount,
    authenticatedConnections: hub.connectionCount - hub.anonymousCount,
    tokens,
    channels: hub.channelCount,
    nodeId: cluster.nodeId,
    residentMemoryBytes: Deno.memoryUsage().rss,
    uptimeSeconds: Math.round((Date.now() - metrics.startedAt) / 1000),
  };
}

function heapUsed(): number {
  return Deno.memoryUsage().heapUsed;
}

/** `{"pusher": {app id: {"connections": N}}}` when any node serves Pusher apps, else nothing. */
function pusherStats(nodes: readonly NodeReport[]): { pusher?: Record<string, unknown> } {
  const apps = sumPusherConnections(nodes);
  return apps === null ? {} : { pusher: apps };
}
