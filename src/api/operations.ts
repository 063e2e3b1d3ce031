/**
 * @module
 * What operators poll: `/health` (public, for load balancers), `/stats` (JSON) and
 * `/metrics` (Prometheus text format).
 */

import { type Gauges, renderPrometheus } from "../metrics.ts";
import type { ApiContext } from "./context.ts";
import { jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The health, stats and metrics routes. */
export function operationsRoutes(context: ApiContext): Route[] {
  const { metrics } = context;
  return [
    {
      method: "GET",
      path: "/health",
      isPublic: true,
      handler: () =>
        context.isShuttingDown()
          ? jsonResponse({ status: "shutting down" }, 503)
          : jsonResponse({ status: "ok" }),
    },
    {
      method: "GET",
      path: "/stats",
      handler: () => {
        const gauges = readGauges(context);
        return jsonResponse({
          connections: {
            anonymous: gauges.anonymousConnections,
            authenticated: gauges.authenticatedConnections,
          },
          tokens: gauges.tokens,
          channels: gauges.channels,
          messages_published: metrics.messagesPublished,
          frames_delivered: metrics.framesDelivered,
          slow_consumers_dropped: metrics.slowConsumersDropped,
          connections_refused: metrics.connectionsRefused,
          connections_closed_for_limits: metrics.connectionsClosedForLimits,
          uptime_seconds: gauges.uptimeSeconds,
          memory: { rss_bytes: gauges.residentMemoryBytes, heap_used_bytes: heapUsed() },
        });
      },
    },
    {
      method: "GET",
      path: "/metrics",
      handler: () =>
        new Response(renderPrometheus(metrics, readGauges(context)), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        }),
    },
  ];
}

function readGauges({ hub, tokens, metrics }: ApiContext): Gauges {
  return {
    anonymousConnections: hub.anonymousCount,
    authenticatedConnections: hub.connectionCount - hub.anonymousCount,
    tokens: tokens.size,
    channels: hub.channelCount,
    residentMemoryBytes: Deno.memoryUsage().rss,
    uptimeSeconds: Math.round((Date.now() - metrics.startedAt) / 1000),
  };
}

function heapUsed(): number {
  return Deno.memoryUsage().heapUsed;
}
