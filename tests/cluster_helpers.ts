/**
 * @module
 * Cluster fixtures: several real servers (in this process) on one test Redis, and waits for
 * what only Redis knows, such as a node's health after Redis comes back.
 */

import type { Config } from "../src/config.ts";
import { startTestServer, type TestClient, type TestServer } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";

/** How long the cluster may take to notice a change it learns of by polling, in ms. */
export const CLUSTER_WAIT_MS = 6_000;

/** Resolves once `check()` resolves to true, trying every 25 ms; rejects after `ms` naming
 * `what`. For states only another process knows (Redis, a node's health), which send no
 * event here. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = CLUSTER_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts a node of the cluster on `redisUrl`, named `nodeId`, and waits until it is healthy. */
export function startNode(
  redisUrl: string,
  nodeId: string,
  overrides: Partial<Config> = {},
): Promise<TestServer> {
  return startHealthyNode({ redisUrl, nodeId, ...overrides });
}

/** Starts a server with `config` and waits until it is healthy (stopping it if it never is). */
export async function startHealthyNode(config: Partial<Config>): Promise<TestServer> {
  const server = await startTestServer(config);
  try {
    await untilHealthy(server);
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  return server;
}

/** Resolves once `GET /health` answers 200. */
export function untilHealthy(server: TestServer, ms = CLUSTER_WAIT_MS): Promise<void> {
  return until(
    async () => {
      const response = await server.api("/health");
      await response.body?.cancel();
      return response.status === 200;
    },
    `node ${server.cluster.nodeId} to be healthy`,
    ms,
  );
}

/** Resolves once every node in `servers` sees all of them as live. */
export function untilNodesSee(servers: readonly TestServer[]): Promise<void> {
  const ids = JSON.stringify(servers.map((server) => server.cluster.nodeId).sort());
  const seen = async (server: TestServer) => {
    const { nodes } = await server.cluster.membership.census();
    return JSON.stringify(nodes.map(({ id }) => id).sort());
  };
  return until(
    async () => (await Promise.all(servers.map(seen))).every((nodes) => nodes === ids),
    `every node to see ${ids}`,
  );
}

/** Authenticates `client` with `token` and joins `channels`, awaiting both replies. */
export async function joinWith(
  client: TestClient,
  token: string,
  channels: readonly string[],
): Promise<void> {
  const auth = await client.request({ access_token: token }, "auth");
  if (JSON.stringify(auth) !== '{"ref":"auth","ok":true}') {
    throw new Error(`authentication failed: ${JSON.stringify(auth)}`);
  }
  const join = await client.request({ channels: { join: channels, leave: [] } }, "join");
  if (JSON.stringify(join) !== '{"ref":"join","ok":true}') {
    throw new Error(`join failed: ${JSON.stringify(join)}`);
  }
}

/** `POST /broadcast/<channel>/` of `payload` through `server`; returns the status and body. */
export async function broadcastThrough(
  server: TestServer,
  channel: string,
  payload: unknown,
  dryrun = false,
): Promise<{ status: number; body: { recipients?: number; errors?: string[] } }> {
  const response = await server.api(`/broadcast/${encodeURIComponent(channel)}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, dryrun }),
  });
  const { value } = await readJson(response, response.status);
  return { status: response.status, body: value as { recipients?: number; errors?: string[] } };
}

/** The JSON body of `GET <path>` on `server`, asserting 200. */
export async function getJson(server: TestServer, path: string): Promise<unknown> {
  const { value } = await readJson(await server.api(path), 200);
  return value;
}
