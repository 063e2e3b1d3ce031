/**
 * @module
 * The load generator's reconnect storm: as many WebSockets as there are tokens, opened at most
 * `inflight` at a time and each authenticated as soon as it opens (`{"access_token": T, "ref": 1}`,
 * done at `{"ref": 1, "ok": true}`), as clients do when a server comes back. Times each
 * connection from `new WebSocket` to the answer and reads both processes' CPU time at the edges.
 */

import { LatencyHistogram } from "./histogram.ts";
import type { StormCommand, StormResult } from "./ipc.ts";
import { cpuSeconds } from "./proc.ts";

const AUTH_TIMEOUT_MS = 10_000;

/** Runs one storm; closes every connection it opened (after the measurement) before
 * resolving. Rejects on the first connection that fails or is refused. */
export async function stormWindow(command: StormCommand): Promise<StormResult> {
  const { tokens, wsUrl } = command;
  const latency = new LatencyHistogram();
  const sockets: WebSocket[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++]!;
      const started = performance.now();
      sockets.push(await authenticate(wsUrl, token));
      latency.record(performance.now() - started);
    }
  };
  const pids = [command.serverPid, Deno.pid];
  const before = { at: performance.now(), cpu: await cpuSeconds(pids) };
  let failure: unknown;
  await Promise.all(Array.from({ length: command.inflight }, worker)).catch((error) => {
    failure = error;
    next = tokens.length;
  });
  // Read before the closes, which are not part of the storm.
  const after = { at: performance.now(), cpu: await cpuSeconds(pids) };
  await Promise.all(sockets.map(close));
  if (failure !== undefined) throw failure;
  return {
    authentications: sockets.length,
    seconds: (after.at - before.at) / 1000,
    p50Ms: latency.percentile(0.5),
    p99Ms: latency.percentile(0.99),
    serverCpuSeconds: after.cpu[0]! - before.cpu[0]!,
    loadCpuSeconds: after.cpu[1]! - before.cpu[1]!,
  };
}

/** Opens a WebSocket and authenticates with `token`; resolves once the server said ok. */
function authenticate(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`storm connection to ${url}: ${reason}`));
    };
    const timer = setTimeout(() => fail("no answer to access_token in time"), AUTH_TIMEOUT_MS);
    socket.onopen = () => socket.send(JSON.stringify({ access_token: token, ref: 1 }));
    socket.onmessage = (event) => {
      if (JSON.parse(event.data).ok !== true) return fail(`refused: ${event.data}`);
      clearTimeout(timer);
      socket.onopen =
        socket.onmessage =
        socket.onerror =
        socket.onclose =
          null;
      resolve(socket);
    };
    socket.onerror = () => fail("WebSocket error");
    socket.onclose = (event) => fail(`closed with ${event.code} ${event.reason}`);
  });
}

function close(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    socket.addEventListener("close", () => resolve(), { once: true });
    socket.close(1000, "done");
  });
}
