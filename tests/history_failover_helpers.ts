/**
 * @module
 * What the history-through-a-failover tests (Sentinel, Redis Cluster) share: the `news`
 * channel's publisher and subscribers, and commands on one `redis-cli` connection.
 */

import assert from "node:assert/strict";
import type { RecoveryEvent, SubscriberEvent } from "../client/mod.ts";
import { nextEvent, subscriberOf } from "./client_helpers.ts";
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
