/**
 * @module
 * What the failover tests (Sentinel, Redis Cluster) share: a publisher that keeps sending
 * broadcasts through the nodes and remembers each answer, and what a subscriber received.
 */

import assert from "node:assert/strict";
import { broadcastThrough, joinWith, until } from "./cluster_helpers.ts";
import { TestClient, type TestServer } from "./helpers.ts";

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

/** Two subscribers of a failover test, one on each node, and the tokens it checks. */
export interface Subscribers extends AsyncDisposable {
  readonly token: string;
  readonly revoked: string;
  /** What each subscriber received (`recordSeqs`). */
  readonly received: readonly number[][];
  /** How many of the two subscribers' sockets have closed. */
  closes(): number;
}

/** A failover test's starting point on `nodes` (two): a token minted and one minted and revoked
 * while the replica is there (each waited for it), and one subscriber of `channel` on each node
 * with that token, both counted by both nodes; what each receives, and how many closed. */
export async function subscribeBoth(
  nodes: readonly TestServer[],
  channel: string,
): Promise<Subscribers> {
  const [a, b] = nodes as [TestServer, TestServer];
  const token = await a.mintToken();
  const revoked = await b.mintToken();
  assert.equal(await status(a.api(`/token/${revoked}/`, { method: "DELETE" })), 204);
  const clients = [await TestClient.connect(a.wsUrl), await TestClient.connect(b.wsUrl)];
  let closes = 0;
  for (const client of clients) {
    await joinWith(client, token, [channel]);
    client.closed.then(() => closes++);
  }
  const received = clients.map((client) => recordSeqs(client, channel));
  for (const node of nodes) {
    await until(
      async () => (await broadcastThrough(node, channel, 0, true)).body.recipients === 2,
      "both subscribers counted",
    );
  }
  return {
    token,
    revoked,
    received,
    closes: () => closes,
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client[Symbol.asyncDispose]();
    },
  };
}

/** Each node's id and Redis endpoint, as `GET /nodes/` lists them; the error while it answers
 * 503. */
export async function endpoints(node: TestServer): Promise<string[]> {
  const response = await node.api("/nodes/");
  if (response.status !== 200) return [await response.text()];
  const { nodes } = await response.json() as { nodes: Array<{ id: string; redis?: string }> };
  return nodes.map(({ id, redis }) => `${id}=${redis}`).sort();
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

/** When a failover test's events happened (`performance.now()`): the last broadcast sent before
 * the kill, the kill, the last time the heir still said it was a replica, and the moment every
 * node was healthy again. */
export interface FailoverTimes {
  readonly killSentAt: number;
  readonly killedAt: number;
  readonly lastSeenReplicaAt: number;
  readonly recoveredAt: number;
}

/** Asserts what a failover keeps of `sent` broadcasts, as `received` by one subscriber per node
 * (through node i at `received[i]`): what was answered 200 reached its own node's subscriber,
 * and every subscriber before the kill and after the recovery; none twice; every broadcast
 * after the recovery answered 200 with both subscribers counted; while there was no master,
 * only 503s. */
export async function assertFailoverDelivery(
  sent: readonly Sent[],
  received: readonly number[][],
  { killSentAt, killedAt, lastSeenReplicaAt, recoveredAt }: FailoverTimes,
): Promise<void> {
  const ok = sent.filter(({ status }) => status === 200);
  const last = Math.max(...ok.map(({ seq }) => seq));
  await until(() => received.every((seqs) => seqs.includes(last)), "the last broadcast");
  for (const { seq, node } of ok) {
    assert.ok(received[node]!.includes(seq), `broadcast ${seq} reached its own node's subscriber`);
  }
  const everywhere = ok.filter(({ endedAt, startedAt }) =>
    endedAt < killSentAt || startedAt > recoveredAt
  );
  for (const { seq } of everywhere) {
    assert.ok(received.every((seqs) => seqs.includes(seq)), `broadcast ${seq} reached both`);
  }
  for (const seqs of received) assert.equal(new Set(seqs).size, seqs.length, "none twice");
  const after = sent.filter(({ startedAt }) => startedAt > recoveredAt);
  assert.ok(after.length >= 100);
  for (const { seq, status, recipients } of after) {
    assert.deepEqual({ seq, status, recipients }, {
      seq,
      status: 200,
      recipients: received.length,
    });
  }
  const outage = sent.filter(({ startedAt, endedAt }) =>
    startedAt > killedAt && endedAt < lastSeenReplicaAt
  );
  assert.ok(outage.length > 0, "broadcasts were sent while there was no master");
  for (const { seq, status } of outage) assert.deepEqual({ seq, status }, { seq, status: 503 });
  assert.ok(sent.every(({ status }) => status === 200 || status === 503));
}

/** What `failOver` saw: what was sent, when things happened, and which nodes said 503. */
export interface Failover {
  readonly sent: Sent[];
  readonly times: FailoverTimes;
  /** The ids of the nodes whose `/health` answered 503 while there was no master. */
  readonly degraded: ReadonlySet<string>;
}

/** With `publisher` sending, kills `master` once 100 broadcasts went, watches every node's
 * `/health` until `heir` says it is the master (at most `promotionMs`), waits until every node
 * is healthy again (at most `recoveryMs` after the promotion) and 100 more broadcasts went,
 * then stops the publisher. */
export async function failOver(
  { nodes, master, heir, publisher }: {
    nodes: readonly TestServer[];
    master: { kill(): Promise<void> };
    heir: { cli(...args: string[]): Promise<string[]> };
    publisher: Publisher;
  },
  { promotionMs, recoveryMs }: { promotionMs: number; recoveryMs: number },
): Promise<Failover> {
  await until(() => publisher.sent.length >= 100, "100 broadcasts before the kill");
  const killSentAt = performance.now();
  await master.kill();
  const killedAt = performance.now();
  const degraded = new Set<string>();
  let lastSeenReplicaAt = killedAt;
  let promotedAt = 0;
  await until(
    async () => {
      for (const node of nodes) {
        if ((await status(node.api("/health"))) === 503) degraded.add(node.cluster.nodeId);
      }
      const askedAt = performance.now();
      if ((await roleOf(heir)) === "master") {
        promotedAt = performance.now();
        return true;
      }
      lastSeenReplicaAt = askedAt;
      return false;
    },
    "the replica to be promoted",
    promotionMs,
  );
  // Every node healthy again, without a restart.
  await until(
    async () =>
      (await Promise.all(nodes.map((node) => status(node.api("/health"))))).every((s) => s === 200),
    "every node healthy again",
    recoveryMs - (performance.now() - promotedAt),
  );
  const recoveredAt = performance.now();
  const sentBeforeRecovery = publisher.sent.length;
  await until(() => publisher.sent.length >= sentBeforeRecovery + 100, "100 broadcasts after");
  const sent = await publisher.stop();
  return { sent, times: { killSentAt, killedAt, lastSeenReplicaAt, recoveredAt }, degraded };
}

/** After a failover: a token minted before it still authenticates through `on`, one revoked
 * before it is still refused, and a mint through `mintOn` answers 503 while the new master has
 * no replica (it could not be kept through the next failover). */
export async function assertTokensKept(
  { on, mintOn }: { on: TestServer; mintOn: TestServer },
  { token, revoked }: { token: string; revoked: string },
): Promise<void> {
  await using late = await TestClient.connect(on.wsUrl);
  assert.deepEqual(await late.request({ access_token: revoked }), {
    ref: 1,
    error: "access_token: unknown token",
  });
  assert.deepEqual(await late.request({ access_token: token }), { ref: 1, ok: true });
  assert.equal(await mint(mintOn), 503);
}
