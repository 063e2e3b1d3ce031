/**
 * @module
 * The load generator's subscribers: WebSockets that authenticate, join one channel, then count
 * every broadcast they receive and record its publish-to-receive latency. A payload carries its
 * publish time (`"t":` milliseconds of `performance.now()` in this process), so latency needs
 * one clock only. A subclass may see each join acknowledgement, each other frame that is not a
 * delivery, and each recorded latency (`workers_probe.ts` splits latency by the worker that
 * holds a subscriber; `chat_load.ts` publishes over the subscribers' sockets).
 */

import { LatencyHistogram } from "./histogram.ts";

const LATENCY_KEY = '"t":';
const CONNECT_TIMEOUT_MS = 10_000;

/** Every subscriber of one load generator, with their shared delivery counters. */
export class SubscriberPool implements EventListenerObject {
  readonly #sockets: WebSocket[] = [];
  /** Latencies of the deliveries received while `isMeasuring`. */
  readonly latency: LatencyHistogram = new LatencyHistogram();
  /** What comes before a frame's publish time: `"t":`, or its escaped form where the payload
   * travels as a JSON string (Pusher's `data`). */
  protected readonly latencyKey: string = LATENCY_KEY;
  /** Whether deliveries are recorded in `latency`. */
  isMeasuring = false;
  #received = 0;
  #waitTarget = Infinity;
  #wake: (() => void) | undefined;

  /** How many subscribers are open. */
  get size(): number {
    return this.#sockets.length;
  }

  /** Broadcast frames received so far by all subscribers. */
  get received(): number {
    return this.#received;
  }

  /** Forgets the latencies recorded so far. */
  resetLatency(): void {
    this.latency.reset();
  }

  /** Opens `tokens.length` subscribers to `url`, at most `concurrency` handshakes at a time;
   * each authenticates with its token and joins `channel` (the k-th: `channels[k % length]`).
   * Resolves once every join is acknowledged; rejects on the first failure. */
  async open(
    url: string,
    { tokens, concurrency = 64, ...names }: {
      tokens: readonly string[];
      concurrency?: number;
    } & ({ channel: string } | { channels: readonly string[] }),
  ): Promise<void> {
    const channels = "channels" in names ? names.channels : [names.channel];
    let next = 0;
    const worker = async () => {
      while (next < tokens.length) {
        const index = next++;
        const token = tokens[index]!;
        const channel = channels[index % channels.length]!;
        const { socket, ack } = await openSubscriber(url, token, channel);
        socket.addEventListener("message", this);
        this.#sockets.push(socket);
        this.joined(socket, { ack, channel });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** Closes every subscriber and resolves once all have closed. */
  async closeAll(): Promise<void> {
    const sockets = this.#sockets.splice(0);
    await Promise.all(sockets.map((socket) =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.addEventListener("close", () => resolve(), { once: true });
        socket.close(1000, "done");
      })
    ));
  }

  /** Resolves once `received` reaches `target`, or after `timeoutMs` (then false). */
  async untilReceived(target: number, timeoutMs: number): Promise<boolean> {
    if (this.#received >= target) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const isReached = await new Promise<boolean>((resolve) => {
      this.#waitTarget = target;
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    this.#waitTarget = Infinity;
    return isReached;
  }

  /** Wakes a pending `untilReceived` early, e.g. when something else it waits for changed. */
  nudge(): void {
    this.#wake?.();
  }

  /** Counts one received frame. */
  handleEvent(event: Event): void {
    const now = performance.now();
    const data = (event as MessageEvent).data;
    if (typeof data !== "string") return;
    const key = this.latencyKey;
    const at = data.indexOf(key);
    if (at === -1) return this.answered(data);
    this.#received++;
    if (this.isMeasuring) {
      const ms = now - parseFloat(data.slice(at + key.length));
      this.recordLatency(ms, event as MessageEvent<string>);
    }
    if (this.#received >= this.#waitTarget) this.#wake?.();
  }

  /** Called once `socket` joined `channel`, with its parsed acknowledgement; does nothing
   * here. */
  protected joined(
    _socket: WebSocket,
    _join: { ack: Readonly<Record<string, unknown>>; channel: string },
  ): void {}

  /** Called with each frame that is not a delivery (a reply to a client message); does
   * nothing here. */
  protected answered(_frame: string): void {}

  /** Records the latency `ms` of the broadcast frame `event` brought, while measuring. */
  protected recordLatency(ms: number, _event: MessageEvent<string>): void {
    this.latency.record(ms);
  }
}

/** Opens one WebSocket, authenticates with `token` and joins `channel`; resolves once the
 * server acknowledged the join (its `ref`), with the acknowledgement. */
export function openSubscriber(
  url: string,
  token: string,
  channel: string,
): Promise<{ socket: WebSocket; ack: Record<string, unknown> }> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`subscriber to ${url}: ${reason}`));
    };
    const timer = setTimeout(() => fail("no join acknowledgement in time"), CONNECT_TIMEOUT_MS);
    socket.onopen = () => {
      socket.send(JSON.stringify({ access_token: token }));
      socket.send(JSON.stringify({ channels: { join: [channel], leave: [] }, ref: 1 }));
    };
    socket.onmessage = (event) => {
      const reply = JSON.parse(event.data);
      if (reply.ok !== true) return fail(`join refused: ${event.data}`);
      clearTimeout(timer);
      socket.onopen =
        socket.onmessage =
        socket.onerror =
        socket.onclose =
          null;
      resolve({ socket, ack: reply });
    };
    socket.onerror = () => fail("WebSocket error");
    socket.onclose = (event) => fail(`closed with ${event.code} ${event.reason}`);
  });
}
