/**
 * @module
 * The load generators' publishing loop: publishes ~100-byte payloads whose `"t":` is the
 * publish time, at a fixed rate of deliveries (open loop) or as fast as deliveries come back
 * (closed loop), and takes snapshots at the edges of the measured window. How a payload is
 * published is a `Publish` function: a POST (`httpPublish`, the native `POST /broadcast/` by
 * default) or a client publication over a subscriber's WebSocket (`chat_load.ts`).
 */

import type { FanoutCommand } from "./ipc.ts";
import type { SubscriberPool } from "./subscribers.ts";

/** Payload padding: `{"t":NNNNNN.NNN,"p":"…"}` comes to about 100 bytes. */
const PAD = "x".repeat(78);
const JSON_HEADERS = { "content-type": "application/json" };
const STALL_MS = 5_000;

/** A publication's answer: a broadcast POST's JSON (`recipients`, and whatever else the server
 * adds), or a client publication's reply (`ok`, no `recipients`). */
export interface PublishAnswer {
  readonly recipients?: number;
  readonly [key: string]: unknown;
}

/** Publishes `payload` (JSON text) to `channel`; resolves to the answer, or to undefined when
 * the publication failed. */
export type Publish = (channel: string, payload: string) => Promise<PublishAnswer | undefined>;

/** A publishing POST: its URL and `fetch` options. */
export type PublishRequest = readonly [url: string, init: RequestInit];

/** Publishes with the POST `request` makes (default: `POST /broadcast/{channel}/`) to the API
 * at `apiUrl`, over `fetch`'s keep-alive connections; a status other than 200 is a failure. */
export function httpPublish(
  apiUrl: string,
  request: (apiUrl: string, channel: string, payload: string) => PublishRequest = broadcastRequest,
): Publish {
  return async (channel, payload) => {
    try {
      const [url, init] = request(apiUrl, channel, payload);
      const response = await fetch(url, init);
      const text = await response.text();
      return response.status === 200 ? JSON.parse(text) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Publishes payloads to `command.channel` (or to `command.channels`, each in turn or, with
 * `command.random`, one picked at random each time; each publication bringing
 * `command.recipients` frames) in the command's mode; after `command.warmupMs` forgets the
 * latencies so far and measures for `command.durationMs`, taking `snapshot()` at both edges;
 * then stops and lets the outstanding deliveries arrive. `deliveriesOf` tells, from each
 * publication's answer (undefined when it failed), how many frames it brings. */
export async function publishWindow<Snapshot>(
  pool: SubscriberPool,
  command: FanoutCommand,
  { deliveriesOf, snapshot, publish = httpPublish(command.apiUrl) }: {
    deliveriesOf: (answer: PublishAnswer | undefined) => number;
    snapshot: () => Promise<Snapshot>;
    /** Default: `httpPublish` to `command.apiUrl`. */
    publish?: Publish;
  },
): Promise<{ before: Snapshot; after: Snapshot }> {
  if (pool.size === 0) throw new RangeError("fanout: no subscribers");
  // Named `subscribers` for the one-channel case: the frames one publication brings.
  const subscribers = command.recipients ?? pool.size;
  const nextChannel = channelPicker(command);
  let expected = pool.received;
  let inFlight = 0;
  let isStopped = false;

  const publishOne = async () => {
    const payload = `{"t":${performance.now().toFixed(3)},"p":"${PAD}"}`;
    expected += subscribers;
    inFlight++;
    const answer = await publish(nextChannel(), payload);
    expected += deliveriesOf(answer) - subscribers;
    inFlight--;
    pool.nudge();
  };

  const rateLoop = async () => {
    const perMs = command.deliveriesPerSecond / subscribers / 1000;
    const start = performance.now();
    let sent = 0;
    while (!isStopped) {
      const due = Math.floor((performance.now() - start) * perMs) + 1;
      for (; sent < due; sent++) void publishOne();
      await sleep(Math.max(0, sent / perMs - (performance.now() - start)));
    }
  };

  const saturateLoop = async () => {
    const window = command.inflight * subscribers;
    while (!isStopped) {
      const isSlotFree = inFlight < command.inflight;
      if (isSlotFree && expected - pool.received + subscribers <= window) {
        void publishOne();
        continue;
      }
      // Wait for enough deliveries, or (nudged) for a publication to be answered.
      const target = isSlotFree ? expected + subscribers - window : Infinity;
      if (!await pool.untilReceived(target, STALL_MS)) throw new Error("fanout: stalled");
    }
  };

  const loop = command.mode === "rate" ? rateLoop() : saturateLoop();
  await sleep(command.warmupMs);
  pool.resetLatency();
  pool.isMeasuring = true;
  const before = await snapshot();
  await sleep(command.durationMs);
  const after = await snapshot();
  pool.isMeasuring = false;
  isStopped = true;
  await loop;
  const deadline = performance.now() + STALL_MS;
  while (inFlight > 0) {
    if (performance.now() > deadline) throw new Error(`fanout: ${inFlight} never answered`);
    await sleep(1);
  }
  await pool.untilReceived(expected, STALL_MS);
  return { before, after };
}

/** `POST /broadcast/{channel}/` of `payload`. */
function broadcastRequest(apiUrl: string, channel: string, payload: string): PublishRequest {
  return [`${apiUrl}/broadcast/${encodeURIComponent(channel)}/`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: `{"dryrun": false, "payload": ${payload}}`,
  }];
}

/** The channel of each publication in turn: `command.channel`, or one of `command.channels`,
 * in turn or at random. */
function channelPicker(command: FanoutCommand): () => string {
  const channels = command.channels ?? [command.channel];
  if (command.random === true) {
    return () => channels[Math.floor(Math.random() * channels.length)]!;
  }
  let published = 0;
  return () => channels[published++ % channels.length]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
