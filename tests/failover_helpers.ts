/**
 * @module
 * What the failover tests (Sentinel, Redis Cluster) share: a publisher that keeps sending
 * broadcasts through the nodes and remembers each answer, and what a subscriber received.
 */

import { broadcastThrough } from "./cluster_helpers.ts";
import type { TestClient, TestServer } from "./helpers.ts";

/** One broadcast the publisher sent: through which node, when, and what it was answered. */
export interface Sent {
  readonly seq: number;
  readonly node: number;
  readonly startedAt: number;
  endedAt: number;
  status: number;
  recipients: number | undefined;
}

/** A running publisher: what it sent so far, and how to stop it. */
export interface Publisher {
  readonly sent: readonly Sent[];
  /** Stops sending, waits for every answer, and resolves to what was sent. */
  stop(): Promise<Sent[]>;
}

/** Sends a broadcast `{seq}` to `channel` every 5 ms, through each node in turn, without
 * waiting for the answers, until stopped; then waits for the answers. */
export function startPublisher(nodes: readonly TestServer[], channel: string): Publisher {
  const sent: Sent[] = [];
  const answers: Promise<void>[] = [];
  let isStopped = false;
  const loop = (async () => {
    for (let seq = 0; !isStopped; seq++) {
      const node = seq % nodes.length;
      const entry: Sent = {
        seq,
        node,
        startedAt: performance.now(),
        endedAt: 0,
        status: 0,
        recipients: undefined,
      };
      sent.push(entry);
      answers.push(
        broadcastThrough(nodes[node]!, channel, { seq }).then(({ status, body }) => {
          entry.endedAt = performance.now();
          entry.status = status;
          entry.recipients = body.recipients;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    sent,
    async stop(): Promise<Sent[]> {
      isStopped = true;
      await loop;
      await Promise.all(answers);
      return sent;
    },
  };
}

/** A subscriber's received `seq`s, in order. */
export function recordSeqs(client: TestClient, channel: string): number[] {
  const seqs: number[] = [];
  client.socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string);
    if (frame.channel === channel) seqs.push(frame.message.seq);
  });
  return seqs;
}

/** The status of `response`, its body dropped. */
export async function status(response: Promise<Response>): Promise<number> {
  const answered = await response;
  await answered.body?.cancel();
  return answered.status;
}

/** The status of a `POST /token/` through `node`. */
export async function mint(node: TestServer): Promise<number> {
  return await status(node.api("/token/", { method: "POST" }));
}

/** The first line of `ROLE` on `server`: master or slave. */
export async function roleOf(
  server: { cli(...args: string[]): Promise<string[]> },
): Promise<string> {
  return (await server.cli("ROLE"))[0] ?? "";
}
