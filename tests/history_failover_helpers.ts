/**
 * @module
 * What the history-through-a-failover tests (Sentinel, Redis Cluster) share: the `news`
 * channel's publisher and subscribers, and commands on one `redis-cli` connection.
 */

import assert from "node:assert/strict";
import type { RecoveryEvent, SubscriberEvent } from "../client/mod.ts";
import { apiOf, nextEvent, subscriberOf } from "./client_helpers.ts";
import { broadcastThrough } from "./cluster_helpers.ts";
import { type TestServer, withTimeout } from "./helpers.ts";

export const HISTORY = { historySize: 100, historyTtl: 60 };

/** Runs `commands` one after the other on one `redis-cli` connection to `port`; returns their
 * replies. */
export async function commandsOnOneConnection(
  port: number,
  commands: readonly string[],
): Promise<string[]> {
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(commands.join("\n") + "\n"));
  await writer.close();
  const { stdout } = await child.output();
  return new TextDecoder().decode(stdout).trim().split("\n");
}

export async function publish(
  node: TestServer,
  payload: number,
): Promise<{ offset: number; epoch: string }> {
  const { status, body } = await broadcastThrough(node, "news", payload);
  assert.equal(status, 200);
  return body as unknown as { offset: number; epoch: string };
}

/** A subscriber of `news`, its events, and the recoveries it reported. */
export interface NewsSubscriber {
  readonly subscriber: ReturnType<typeof subscriberOf>;
  readonly events: AsyncIterator<SubscriberEvent, undefined>;
  readonly recoveries: RecoveryEvent[];
}

/** A subscriber of `news` on `node`, with its events and recovery reports. */
export async function subscribe(node: TestServer, token: string): Promise<NewsSubscriber> {
  const recoveries: RecoveryEvent[] = [];
  const subscriber = subscriberOf(node, token, {
    channels: ["news"],
    onRecovery: (event) => recoveries.push(event),
  });
  const events = subscriber.events()[Symbol.asyncIterator]();
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  return { subscriber, events, recoveries };
}

export async function expectMessages(
  events: AsyncIterator<SubscriberEvent, undefined>,
  offsets: readonly number[],
): Promise<void> {
  for (const offset of offsets) {
    assert.deepEqual(await nextEvent(events, `offset ${offset}`), {
      type: "message",
      channel: "news",
      message: offset,
      offset,
    });
  }
}

/** After a failover that lost `news`'s offsets 6 to 8 of `epoch` (the subscribers `onA` and
 * `onB`, of nodes `a` and `b`, had them): both subscribers resume and are told `recovered:
 * false` with a new epoch, offsets start again at 1 and reach both, and a subscriber that was
 * away with 8 of the old epoch is told it did not recover. */
export async function assertLostWritesTold(
  { a, b, token, epoch }: { a: TestServer; b: TestServer; token: string; epoch: string },
  onA: NewsSubscriber,
  onB: NewsSubscriber,
): Promise<void> {
  // Each node had delivered 8, past the new master's top: both subscribers resume, and are
  // told that what they have of the old epoch may not all be there.
  const recovered: RecoveryEvent[] = [];
  for (const { events, recoveries } of [onA, onB]) {
    const recovery = await nextEvent(events, "the recovery event") as RecoveryEvent;
    assert.deepEqual(recoveries, [recovery]);
    recovered.push(recovery);
  }
  const now = recovered[0]!.epoch!;
  assert.notEqual(now, epoch);
  for (const recovery of recovered) {
    assert.deepEqual(recovery, {
      type: "recovery",
      channel: "news",
      recovered: false,
      offset: 0,
      epoch: now,
      since: { offset: 8, epoch },
    });
  }
  // Offsets start again in the new epoch, and reach both.
  for (let n = 1; n <= 3; n++) {
    assert.deepEqual(await apiOf(n % 2 === 0 ? b : a).publish("news", n), {
      recipients: 2,
      offset: n,
      epoch: now,
    });
  }
  for (const { events, subscriber } of [onA, onB]) {
    await expectMessages(events, [1, 2, 3]);
    assert.deepEqual(subscriber.positions, { news: { offset: 3, epoch: now } });
  }
  // A subscriber that was away with 8 of the old epoch: the channel has 8 messages again, but
  // 6 to 8 are not the ones it had.
  await using away = subscriberOf(a, token, {
    channels: ["news"],
    since: { news: { offset: 8, epoch } },
  });
  const told = await nextEvent(away.events()[Symbol.asyncIterator](), "the away one's recovery");
  assert.deepEqual(told, {
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: 3,
    epoch: now,
    since: { offset: 8, epoch },
  });
}

/** Publishes 1 to 8 on `news`, alternating `a` and `b`, cutting `master`'s replica off after 5:
 * `WAIT` says the replica has 1 to 5, then the master asks for a password (of new connections:
 * the nodes' stay open) and drops the replica, which cannot log in again. Both subscribers
 * receive 1 to 8. Resolves to the channel's epoch. */
export async function publishPastTheReplica(
  { a, b, master }: { a: TestServer; b: TestServer; master: { port: number } },
  onA: NewsSubscriber,
  onB: NewsSubscriber,
): Promise<string> {
  const { epoch } = await publish(a, 1);
  for (let n = 2; n <= 5; n++) await publish(n % 2 === 0 ? b : a, n);
  assert.deepEqual(
    await commandsOnOneConnection(master.port, ["WAIT 1 2000"]),
    ["1"],
    "the replica has 1 to 5",
  );
  assert.deepEqual(
    await commandsOnOneConnection(master.port, [
      "CONFIG SET requirepass cut-off",
      "CLIENT KILL TYPE replica",
    ]),
    ["OK", "1"],
  );
  for (let n = 6; n <= 8; n++) assert.equal((await publish(n % 2 === 0 ? b : a, n)).offset, n);
  for (const { events } of [onA, onB]) await expectMessages(events, [1, 2, 3, 4, 5, 6, 7, 8]);
  return epoch;
}
