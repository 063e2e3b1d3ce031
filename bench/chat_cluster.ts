/**
 * @module
 * The cluster half of the chat part of `deno task bench` (`--only chat-cluster`, and
 * `--chat-only`): the chat rooms of `chat.ts` on two Boreas nodes (`a`, `b`) on the
 * benchmark's own `redis-server`. Member k of room r is on node (r + k) mod 2, so every room
 * has members on both nodes and every message crosses Redis. HTTP broadcasts are posted to
 * node a; a client publication goes out from whichever node its sender is on. Server-side CPU
 * is that of both nodes plus `redis-server`. Records client publications against HTTP
 * broadcasts under `cluster.*` in `ChatResults.vias`; prints nothing but the progress lines it
 * hands to `log`.
 */

import {
  addFigures,
  CHAT_ARGS,
  chatFigures,
  type ChatOptions,
  type ChatResults,
  chatSetup,
  chatWindow,
  MEMBERS,
  primeChat,
  VIAS,
} from "./chat.ts";
import { startCluster } from "./cluster_setup.ts";
import { hasCommand } from "./processes.ts";
import type { Log } from "./scenarios.ts";

/** The cluster's processes, in the order their CPU time is recorded (`cluster.*.cpu.0` …). */
export const CLUSTER_PROCESSES = ["node a", "node b", "redis-server"] as const;

/** Runs the cluster chat windows `runs` times; the results go to `results`. Resolves to false,
 * measuring nothing, when `redis-server` and `redis-cli` are not both installed. */
export async function measureChatCluster(
  options: ChatOptions,
  { runs, results, log }: { runs: number; results: ChatResults; log: Log },
): Promise<boolean> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) return false;
  for (let run = 0; run < runs; run++) await chatClusterRun(run, options, { results, log });
  return true;
}

/** Two nodes with `rooms × MEMBERS` subscribers through every window of run `run`; which way
 * of sending goes first alternates between runs. */
async function chatClusterRun(
  run: number,
  options: ChatOptions,
  { results, log }: { results: ChatResults; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const { tokensUrl, rooms } = chatSetup(stack, options);
  const { cluster } = await startCluster(stack, { ...options, tokensUrl, args: CHAT_ARGS });
  for (const [node, server] of cluster.nodes.entries()) {
    const channels = membersOn(node, { rooms, nodes: cluster.nodes.length });
    await cluster.load.send({
      op: "connect",
      wsUrl: server.wsUrl,
      channel: rooms[0]!,
      channels,
      count: channels.length,
    });
  }
  const side = { server: cluster.api, load: cluster.load, rooms, extraPids: cluster.extraPids };
  await primeChat(options, side);
  const vias = run % 2 === 0 ? VIAS : [...VIAS].reverse();
  for (const mode of ["rate", "saturate"] as const) {
    for (const via of vias) {
      const result = await chatWindow(options, { ...side, via, mode });
      const figures = chatFigures(result, { label: `cluster ${via}`, run, mode, log });
      addFigures(results.vias, { side: via, key: `cluster.${mode}`, run, figures });
    }
  }
}

/** The room of each subscriber node `node` holds, one entry per subscriber: member k of room
 * r is on node (r + k) mod `nodes`. */
function membersOn(
  node: number,
  { rooms, nodes }: { rooms: readonly string[]; nodes: number },
): string[] {
  const channels: string[] = [];
  rooms.forEach((room, r) => {
    for (let k = 0; k < MEMBERS; k++) if ((r + k) % nodes === node) channels.push(room);
  });
  return channels;
}
