/**
 * @module
 * The load generator's churn window: authenticated connections that keep moving between two
 * channels of their own, one `{"channels": {"join": [next], "leave": [current]}}` message at a
 * time, each sent once the previous one was acknowledged. Every move empties one channel and
 * creates another, the costliest change for a cluster node (a SUBSCRIBE and an UNSUBSCRIBE on
 * top of the mirrored counts). Counts the acknowledged moves and times each one.
 */

import { LatencyHistogram } from "./histogram.ts";
import type { ChurnCommand, ChurnResult } from "./ipc.ts";
import { cpuSeconds } from "./proc.ts";
import { openSubscriber } from "./subscribers.ts";

const REPLY_TIMEOUT_MS = 10_000;

/** Runs one churn window on `command.connections` new connections authenticated with the
 * first of `tokens` (reused in turn when there are fewer); closes them before resolving. */
export async function churnWindow(
  command: ChurnCommand,
  tokens: readonly string[],
): Promise<ChurnResult> {
  if (tokens.length === 0) throw new RangeError("churn: no tokens");
  const name = (connection: number, side: number) => `${command.prefix}-${connection}-${side}`;
  const opened = await Promise.all(
    Array.from(
      { length: command.connections },
      (_, i) => openSubscriber(command.wsUrl, tokens[i % tokens.length]!, name(i, 0)),
    ),
  );
  const sockets = opened.map(({ socket }) => socket);
  const latency = new LatencyHistogram();
  let moves = 0;
  let isMeasuring = false;
  let isStopped = false;

  const mover = async (socket: WebSocket, connection: number) => {
    // ref 1 was the first join; from then on, an even ref moves to side 1, an odd one to 0.
    for (let ref = 2; !isStopped; ref++) {
      const sent = performance.now();
      const reply = nextReply(socket, ref);
      socket.send(JSON.stringify({
        channels: { join: [name(connection, (ref + 1) % 2)], leave: [name(connection, ref % 2)] },
        ref,
      }));
      await reply;
      if (isMeasuring) {
        moves++;
        latency.record(performance.now() - sent);
      }
    }
  };

  const pids = command.serverPids;
  const movers = Promise.all(sockets.map(mover));
  await sleep(command.warmupMs);
  isMeasuring = true;
  const before = { at: performance.now(), cpu: await cpuSeconds([...pids, Deno.pid]) };
  await sleep(command.durationMs);
  const after = { at: performance.now(), cpu: await cpuSeconds([...pids, Deno.pid]) };
  isMeasuring = false;
  isStopped = true;
  await movers;
  await Promise.all(sockets.map(close));
  const used = after.cpu.map((seconds, i) => seconds - before.cpu[i]!);
  return {
    moves,
    seconds: (after.at - before.at) / 1000,
    p50Ms: latency.percentile(0.5),
    p99Ms: latency.percentile(0.99),
    serverCpuSeconds: used.slice(0, pids.length),
    loadCpuSeconds: used[pids.length]!,
  };
}

/** Resolves on `socket`'s next message if it acknowledges `ref`; rejects on a refusal, on a
 * close, or after 10 s. */
function nextReply(socket: WebSocket, ref: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.removeEventListener("message", onMessage);
      socket.removeEventListener("close", onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (event: MessageEvent) => {
      const reply = JSON.parse(event.data);
      if (reply.ref === ref && reply.ok === true) done();
      else done(new Error(`churn: move ${ref} refused: ${event.data}`));
    };
    const onClose = (event: CloseEvent) =>
      done(new Error(`churn: closed with ${event.code} ${event.reason}`));
    const timer = setTimeout(
      () => done(new Error(`churn: no acknowledgement of move ${ref} in time`)),
      REPLY_TIMEOUT_MS,
    );
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", onClose);
  });
}

function close(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    socket.addEventListener("close", () => resolve(), { once: true });
    socket.close(1000, "done");
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
