/**
 * @module
 * `deno task screenshot`: renders the dashboard of a busy two-node cluster in Chromium and
 * saves it as `docs/dashboard.png`. Everything is real and on loopback: a redis-server of its
 * own, two nodes, WebSocket subscribers and broadcasts at a rate that rises and falls, so that
 * the chart has a shape. Takes about half a minute.
 */

import { launchBrowser } from "../tests/browser.ts";
import { startNode, untilNodesSee } from "../tests/cluster_helpers.ts";
import { TestClient, type TestServer } from "../tests/helpers.ts";
import { startRedis } from "../tests/redis_server.ts";

const OUTPUT = new URL("../docs/dashboard.png", import.meta.url);
/** How long the chart collects rates before the picture is taken, in seconds. */
const SECONDS = 40;
/** Subscribers per channel, spread over the two nodes. */
const CHANNELS: Record<string, number> = {
  "chat:lobby": 24,
  "prices:eur-usd": 15,
  "alerts": 8,
  "chat:help": 5,
  "dashboards:ops": 3,
};

async function subscribe(nodes: TestServer[]): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  let n = 0;
  for (const [channel, count] of Object.entries(CHANNELS)) {
    for (let i = 0; i < count; i++) {
      const node = nodes[n++ % nodes.length]!;
      const client = await TestClient.connect(node.wsUrl);
      clients.push(client);
      await client.request({ access_token: await node.mintToken() });
      await client.request({ channels: { join: [channel], leave: [] } }, 2);
    }
  }
  // A few connections that never authenticate.
  for (let i = 0; i < 4; i++) clients.push(await TestClient.connect(nodes[i % 2]!.wsUrl));
  return clients;
}

/** Broadcasts through both nodes until `signal` aborts, at 10 to 60 a second. */
async function publish(nodes: TestServer[], signal: AbortSignal): Promise<void> {
  const channels = Object.keys(CHANNELS);
  const started = Date.now();
  for (let n = 0; !signal.aborted; n++) {
    const node = nodes[n % nodes.length]!;
    const channel = channels[n % channels.length]!;
    const response = await node.api(`/broadcast/${encodeURIComponent(channel)}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload: { n } }),
    });
    await response.body?.cancel();
    const perSecond = 35 + 25 * Math.sin((Date.now() - started) / 4000);
    await new Promise((resolve) => setTimeout(resolve, 1000 / perSecond));
  }
}

await using redis = await startRedis();
await using a = await startNode(redis.url, "node-a");
await using b = await startNode(redis.url, "node-b");
await untilNodesSee([a, b]);
const clients = await subscribe([a, b]);
try {
  await using browser = await launchBrowser();
  const page = await browser.open(`${a.apiUrl}/dashboard`);
  await page.setViewportSize({ width: 1280, height: 900 });
  const stop = new AbortController();
  const publishing = publish([a, b], stop.signal);
  try {
    await page.waitForSelector(`#chart[data-samples="${SECONDS}"]`, { timeout: SECONDS * 2000 });
  } finally {
    stop.abort();
    await publishing;
  }
  await page.screenshot({ path: OUTPUT.pathname, fullPage: true });
  // deno-lint-ignore no-console
  console.log(`wrote ${OUTPUT.pathname}`);
} finally {
  for (const client of clients) await client[Symbol.asyncDispose]();
}
