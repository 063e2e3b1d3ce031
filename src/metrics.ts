/**
 * @module
 * What the server counts, and its rendering in the Prometheus text exposition format. No HTTP,
 * no clock of its own beyond what callers pass in: the API's `/stats` and `/metrics` read it.
 */

/** Upper bounds of the broadcast fan-out histogram's buckets, in seconds. */
export const FANOUT_BUCKETS = [
  0.00001,
  0.00005,
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
] as const;

/** A Prometheus histogram with fixed buckets. */
export class Histogram {
  readonly bounds: readonly number[];
  /** Per-bucket counts, not cumulative; the last is for values above every bound. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  /** How many observations there were. */
  get count(): number {
    return this.#count;
  }

  /** Renders the `_bucket`, `_sum` and `_count` lines for `name`. */
  render(name: string): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      lines.push(`${name}_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${name}_sum ${this.#sum}`, `${name}_count ${this.#count}`);
    return lines;
  }
}

/** The server's running counts. Fields are plain numbers, cheap to bump on hot paths. */
export class Metrics {
  /** Messages the API published: one per channel of each broadcast it accepted (not dry runs). */
  messagesPublished = 0;
  /** Clients' publications delivered. */
  clientPublications = 0;
  /** Frames handed to subscribers' sockets by broadcasts. */
  framesDelivered = 0;
  /** Subscribers closed because they stopped reading. */
  slowConsumersDropped = 0;
  /** WebSocket upgrades refused, e.g. past `--max-connections`. */
  connectionsRefused = 0;
  /** Connections closed for breaking a limit (frame size, message rate, auth timeout). */
  connectionsClosedForLimits = 0;
  /** Webhook events dropped: past the queue's size, or given up after retries. */
  webhookEventsDropped = 0;
  /** Times a listener's accept loop stopped unasked (e.g. out of file descriptors); each is
   * followed by binding it again. */
  listenerRestarts = 0;
  /** Time each non-dry broadcast took to hand its frame to every subscriber, in seconds. */
  readonly fanoutSeconds = new Histogram(FANOUT_BUCKETS);
  /** Open Pusher connections on this node, by app id (every configured app, 0 included). */
  readonly pusherConnections = new Map<string, number>();
  /** When the server started, in milliseconds since the epoch. */
  readonly startedAt: number;

  constructor(startedAt: number = Date.now()) {
    this.startedAt = startedAt;
  }
}

/** Point-in-time values that live elsewhere (the hub, the token store, the process). */
export interface Gauges {
  readonly anonymousConnections: number;
  readonly authenticatedConnections: number;
  /** Tokens that may authenticate; null when they cannot be counted (Redis is down). */
  readonly tokens: number | null;
  readonly channels: number;
  /** The node's id (`--node-id`, or generated). */
  readonly nodeId: string;
  /** Resident set size of the process, in bytes. */
  readonly residentMemoryBytes: number;
  /** Seconds since the server started. */
  readonly uptimeSeconds: number;
}

/** Renders the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(metrics: Metrics, gauges: Gauges): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  family("boreas_connections", "gauge", "Open WebSocket connections.", [
    `boreas_connections{state="anonymous"} ${gauges.anonymousConnections}`,
    `boreas_connections{state="authenticated"} ${gauges.authenticatedConnections}`,
  ]);
  if (metrics.pusherConnections.size > 0) {
    family(
      "boreas_pusher_connections",
      "gauge",
      "Open Pusher connections, by app (counted in boreas_connections too).",
      [...metrics.pusherConnections].map(([app, count]) =>
        `boreas_pusher_connections{app=${JSON.stringify(app)}} ${count}`
      ),
    );
  }
  family("boreas_node_info", "gauge", "The node these figures are of.", [
    `boreas_node_info{node=${JSON.stringify(gauges.nodeId)}} 1`,
  ]);
  if (gauges.tokens !== null) {
    family("boreas_tokens", "gauge", "Tokens that may authenticate.", [
      `boreas_tokens ${gauges.tokens}`,
    ]);
  }
  family("boreas_channels", "gauge", "Channels with at least one subscriber.", [
    `boreas_channels ${gauges.channels}`,
  ]);
  const counter = (name: string, help: string, value: number) =>
    family(name, "counter", help, [`${name} ${value}`]);
  counter(
    "boreas_messages_published_total",
    "API broadcasts published, one per channel.",
    metrics.messagesPublished,
  );
  counter(
    "boreas_client_publications_total",
    "Clients' publications delivered.",
    metrics.clientPublications,
  );
  counter("boreas_frames_delivered_total", "Frames sent to subscribers.", metrics.framesDelivered);
  counter(
    "boreas_slow_consumers_dropped_total",
    "Subscribers closed because they stopped reading.",
    metrics.slowConsumersDropped,
  );
  counter(
    "boreas_connections_refused_total",
    "WebSocket upgrades refused.",
    metrics.connectionsRefused,
  );
  counter(
    "boreas_connections_closed_for_limits_total",
    "Connections closed for breaking a limit.",
    metrics.connectionsClosedForLimits,
  );
  counter(
    "boreas_webhook_events_dropped_total",
    "Webhook events dropped: queue full, or given up after retries.",
    metrics.webhookEventsDropped,
  );
  counter(
    "boreas_listener_restarts_total",
    "Times a listener stopped accepting unasked (e.g. out of file descriptors).",
    metrics.listenerRestarts,
  );
  family(
    "boreas_broadcast_fanout_seconds",
    "histogram",
    "Time to hand one broadcast to every subscriber.",
    metrics.fanoutSeconds.render("boreas_broadcast_fanout_seconds"),
  );
  family("boreas_uptime_seconds", "gauge", "Seconds since the server started.", [
    `boreas_uptime_seconds ${gauges.uptimeSeconds}`,
  ]);
  family("boreas_resident_memory_bytes", "gauge", "Resident memory of the process.", [
    `boreas_resident_memory_bytes ${gauges.residentMemoryBytes}`,
  ]);
  return lines.join("\n") + "\n";
}
