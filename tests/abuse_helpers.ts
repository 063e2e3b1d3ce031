/**
 * @module
 * Shared by the abuse tests: what a server with nothing left looks like, and checks that it
 * still serves after being abused.
 */

import assert from "node:assert/strict";
import { TestClient, type TestServer } from "./helpers.ts";
import { EMPTY_RECIPIENT_DUMP, publish } from "./integration_helpers.ts";

/** Limits that let one connection send large frames, fast, so the parser itself is reached. */
export const PERMISSIVE = { maxFrameBytes: 2_000_000, maxClientMessagesPerSecond: 1_000_000 };
export const MIB = 1024 * 1024;
export const DEPTH = 100_000;
export const UTF8 = new TextEncoder();

export function deepArrays(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

export function deepObjects(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

export async function recipientDump(server: TestServer): Promise<string> {
  const response = await server.api("/debug/recipient-dump");
  assert.equal(response.status, 200);
  return await response.text();
}

/** Waits until no connection is left, then asserts the server holds nothing for any. */
export async function assertNothingLeft(server: TestServer): Promise<void> {
  await server.untilConnections(0);
  assert.equal(await recipientDump(server), EMPTY_RECIPIENT_DUMP);
}

/** Connects a client, authenticates it with `token` and joins `channels`, each acknowledged. */
export async function subscriber(
  server: TestServer,
  token: string,
  channels: string[],
): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  const join = { channels: { join: channels, leave: [] } };
  assert.deepEqual(await client.request(join, "join"), { ref: "join", ok: true });
  return client;
}

/** Asserts a normal client can still authenticate, join and receive a broadcast, alongside
 * `others` already subscribed to `news`; then closes it. */
export async function assertStillServing(
  server: TestServer,
  others: TestClient[] = [],
): Promise<void> {
  await using client = await subscriber(server, await server.mintToken(), ["news"]);
  assert.equal(await publish(server, "news", { still: "serving" }), others.length + 1);
  for (const receiver of [client, ...others]) {
    assert.deepEqual(await receiver.next("the broadcast"), {
      message: { still: "serving" },
      channel: "news",
    });
  }
}
