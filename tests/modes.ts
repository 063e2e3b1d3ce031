/**
 * @module
 * Runs a test body standalone and on two cluster nodes of a test Redis, and mints tokens with
 * grants over the real API, for tests of behaviour that must hold in both modes.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { startNode } from "./cluster_helpers.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startRedis } from "./redis_server.ts";

/** Where a test mints (`minter`) and where its client connects (`server`): one server
 * standalone, two nodes of one cluster otherwise. */
export interface Setup {
  readonly minter: TestServer;
  readonly server: TestServer;
}

/** Runs `body` standalone and on two cluster nodes (minting on one, connecting to the other),
 * each server started with `overrides`. */
export function bothModes(
  name: string,
  body: (setup: Setup) => Promise<void>,
  overrides: Partial<Config> = {},
): void {
  Deno.test(`standalone: ${name}`, async () => {
    await using server = await startTestServer(overrides);
    await body({ minter: server, server });
  });
  Deno.test(`cluster: ${name}`, async () => {
    await using redis = await startRedis();
    await using a = await startNode(redis.url, "a", overrides);
    await using b = await startNode(redis.url, "b", overrides);
    await body({ minter: a, server: b });
  });
}

/** Mints a token through `POST /token/` with `body` as its JSON grant; the answer's fields. */
export async function mint(server: TestServer, body: unknown): Promise<Record<string, unknown>> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await readJson(response, 200)).value as Record<string, unknown>;
}

/** A client connected to `server` and authenticated with `token`. */
export async function authenticated(server: TestServer, token: string): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  return client;
}
