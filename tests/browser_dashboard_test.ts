/** The dashboard in a real Chromium: it asks for the API key, shows counts that follow real
 * clients, draws its chart, and its forms publish to a real subscriber, mint and revoke. */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "./browser.ts";
import { startNode, untilNodesSee } from "./cluster_helpers.ts";
import {
  type CloseInfo,
  startTestServer,
  TestClient,
  type TestServer,
  withTimeout,
} from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import { APP, connectPusherJs } from "./pusher_helpers.ts";

const KEY = "dashboard-key";
/** How long the page may take to show a change: it polls every second. */
const SHOW_MS = 5_000;

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector))?.trim() ?? "";
}

/** Waits until `selector`'s whole text is `expected`, failing with what it showed last. */
async function untilText(page: Page, selector: string, expected: string): Promise<void> {
  try {
    await page.waitForSelector(`${selector}:text-is(${JSON.stringify(expected)})`, {
      timeout: SHOW_MS,
    });
  } catch {
    assert.fail(
      `${selector} showed ${JSON.stringify(await textOf(page, selector))}, not ${expected}`,
    );
  }
}

/** Waits until `selector` is visible, failing with what the page's status and forms said. */
async function untilShown(page: Page, selector: string): Promise<void> {
  try {
    await page.waitForSelector(selector, { state: "visible", timeout: SHOW_MS });
  } catch {
    const said = await Promise.all(
      ["#status", "#key-error", "#publish-result", "#mint-result", "#revoke-result"].map(
        async (id) => `${id}: ${JSON.stringify(await textOf(page, id))}`,
      ),
    );
    assert.fail(`${selector} not shown within ${SHOW_MS} ms; ${said.join(", ")}`);
  }
}

/** The little of the page's DOM the functions evaluated in the page use (the tests are
 * type-checked without the DOM library, and those functions can only use the page's own
 * globals). */
interface PageDocument {
  querySelector(selector: string): {
    readonly textContent: string | null;
    readonly width: number;
    readonly height: number;
    getContext(kind: "2d"): {
      getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
    };
  } | null;
}

/** Opens the dashboard of `server` and gives it the key through its form. */
async function openWithKey(browser: TestBrowser, server: TestServer): Promise<Page> {
  const page = await browser.open(`${server.apiUrl}/dashboard`);
  await untilShown(page, "#key-form");
  await page.fill("#key-input", KEY);
  await page.click("#key-form button");
  await untilShown(page, "#dashboard");
  return page;
}

async function mint(server: TestServer, body?: unknown): Promise<string> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

async function joined(server: TestServer, token: string, channels: string[]): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
  assert.deepEqual(await client.request({ channels: { join: channels, leave: [] } }, 2), {
    ref: 2,
    ok: true,
  });
  return client;
}

Deno.test("the dashboard asks for the key, then shows counts that follow real clients", async () => {
  await using server = await startTestServer({ apiKey: [KEY] });
  await using anonymous = await TestClient.connect(server.wsUrl);
  await using browser = await launchBrowser();
  const page = await browser.open(`${server.apiUrl}/dashboard`);

  await untilShown(page, "#key-form");
  assert.equal(await page.isHidden("#dashboard"), true, "nothing shown before the key works");
  await page.fill("#key-input", "wrong");
  await page.click("#key-form button");
  await untilText(page, "#key-error", "That key was refused.");
  assert.equal(await page.isHidden("#dashboard"), true);

  await page.fill("#key-input", KEY);
  await page.click("#key-form button");
  await untilShown(page, "#dashboard");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("boreas-api-key")), KEY);
  await untilText(page, "#connections-anonymous", "1");
  await untilText(page, "#connections-authenticated", "0");
  await untilText(page, "#channels", "0");

  const token = await mint(server);
  await using news1 = await joined(server, token, ["news"]);
  await using news2 = await joined(server, token, ["news", "sport"]);
  await untilText(page, "#connections-authenticated", "2");
  await untilText(page, "#channels", "2");
  await untilText(page, "#busiest tbody tr:first-child td:first-child", "news");
  await untilText(page, "#busiest tbody tr:first-child td:nth-child(2)", "2");
  await untilText(page, "#busiest tbody tr:nth-child(2) td:first-child", "sport");

  // The key stays in this tab: a reload goes straight to the dashboard.
  await page.reload();
  await untilShown(page, "#dashboard");
  await untilText(page, "#connections-authenticated", "2");
  assert.equal(await page.isHidden("#nodes-section"), true, "no node rows when standalone");
  await news1[Symbol.asyncDispose]();
  await untilText(page, "#connections-authenticated", "1");
  assert.deepEqual(browser.pageErrors, []);
  await news2[Symbol.asyncDispose]();
  await anonymous[Symbol.asyncDispose]();
});

Deno.test("the dashboard's chart draws the rates of real broadcasts and publications", async () => {
  await using server = await startTestServer({ requireAuth: false, clientPublish: ["chat"] });
  await using subscriber = await TestClient.connect(server.wsUrl);
  subscriber.send({ channels: { join: ["feed"], leave: [] } });
  await server.untilMembers("feed", 1);
  await using publisher = await TestClient.connect(server.wsUrl);
  publisher.send({ channels: { join: ["chat"], leave: [] } });
  await server.untilMembers("chat", 1);
  await using browser = await launchBrowser();
  const page = await browser.open(`${server.apiUrl}/dashboard`);
  await untilShown(page, "#dashboard");
  await untilShown(page, "#chart canvas");

  const colouredPixels = () =>
    page.evaluate(() => {
      const { document } = globalThis as unknown as { document: PageDocument };
      const canvas = document.querySelector("#chart canvas")!;
      const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
      let coloured = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (a > 0 && ((b > 150 && r < 100) || (r > 200 && g < 120 && b < 60))) coloured++;
      }
      return coloured;
    });
  assert.equal(await colouredPixels(), 0, "no series drawn before there are rates");

  // Broadcast, one after another, until the chart holds a few seconds of rates.
  let sent = 0;
  let isPublishing = true;
  const publishing = (async () => {
    while (isPublishing) {
      const response = await server.api("/broadcast/feed/", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ payload: ++sent }),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      // A client's publication too, answered before the next round.
      assert.deepEqual(await publisher.request({ publish: { channel: "chat", payload: sent } }), {
        ref: 1,
        ok: true,
      });
      await new Promise((resolve) => setTimeout(resolve, 20)); // about 50 a second
    }
  })();
  try {
    // Three samples or more.
    await untilShown(page, "#chart[data-samples]:not([data-samples='1']):not([data-samples='2'])");
  } finally {
    isPublishing = false;
    await publishing;
  }
  assert.ok(Number(await textOf(page, "#rate-delivered")) > 0);
  assert.ok(Number(await textOf(page, "#rate-publications")) > 0);
  // The series' lines are on the canvas, in their colours, not only the axes.
  const coloured = await colouredPixels();
  assert.ok(coloured > 10, `${coloured} pixels of the series' colours`);
  for (let n = 1; n <= sent; n++) {
    assert.deepEqual(await subscriber.next(`broadcast ${n}`), { message: n, channel: "feed" });
  }
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("the dashboard's forms publish to a real subscriber, mint and revoke", async () => {
  await using server = await startTestServer({ apiKey: [KEY] });
  const token = await mint(server);
  await using subscriber = await joined(server, token, ["alerts"]);
  await using browser = await launchBrowser();
  const page = await openWithKey(browser, server);

  await page.fill("#publish-channel", "alerts");
  await page.fill("#publish-message", '{"level": "test"}');
  await page.click("#publish-form button");
  await untilText(page, "#publish-result", "Delivered to 1 subscriber");
  assert.deepEqual(await subscriber.next("the dashboard's message"), {
    message: { level: "test" },
    channel: "alerts",
  });
  await page.fill("#publish-message", "plain words");
  await page.click("#publish-form button");
  assert.deepEqual(await subscriber.next("plain text"), {
    message: "plain words",
    channel: "alerts",
  });

  await page.fill("#mint-channels", "alerts, news:*");
  await page.fill("#mint-ttl", "600");
  await page.fill("#mint-user", "operator");
  await page.click("#mint-form button");
  await untilShown(page, "#mint-result:has-text('(expires ')");
  const minted = (await textOf(page, "#mint-result")).split(" ")[0]!;
  const grant = await (await server.api(`/token/${minted}/`, {
    headers: { authorization: `Bearer ${KEY}` },
  })).json() as Record<string, unknown>;
  assert.deepEqual(grant.channels, ["alerts", "news:*"]);
  assert.equal(grant.user, "operator");

  await page.fill("#mint-ttl", "soon");
  await page.click("#mint-form button");
  await untilShown(page, "#mint-result.error");
  assert.match(await textOf(page, "#mint-result"), /^ttl: /);

  const closed: Promise<CloseInfo> = subscriber.closed;
  await page.fill("#revoke-token", token);
  await page.click("#revoke-form button");
  await untilText(page, "#revoke-result", `Revoked ${token}`);
  assert.equal((await closed).code, 4001);
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("the dashboard shows each Pusher app's connections, and no such table without apps", async () => {
  await using server = await startTestServer({ apiKey: [KEY], pusherApps: [APP] });
  await using browser = await launchBrowser();
  const page = await openWithKey(browser, server);
  await untilText(page, "#pusher-apps tbody tr:first-child td:first-child", "1001");
  await untilText(page, "#pusher-apps tbody tr:first-child td:nth-child(2)", "0");
  await using client = await connectPusherJs(server, APP);
  await untilText(page, "#pusher-apps tbody tr:first-child td:nth-child(2)", "1");
  await using plain = await startTestServer({ apiKey: [KEY] });
  const plainPage = await openWithKey(browser, plain);
  await untilText(plainPage, "#connections-anonymous", "0");
  assert.equal(await plainPage.isHidden("#pusher-section"), true);
  assert.deepEqual(browser.pageErrors, []);
  await client[Symbol.asyncDispose]();
});

Deno.test("in cluster mode the dashboard shows one row per node", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "node-a");
  await using b = await startNode(redis.url, "node-b");
  await untilNodesSee([a, b]);
  await using onB = await TestClient.connect(b.wsUrl);
  await using browser = await launchBrowser();
  const page = await browser.open(`${a.apiUrl}/dashboard`);
  await untilShown(page, "#nodes-section");
  await untilText(page, "#nodes tbody tr:first-child td:first-child", "node-a");
  await untilText(page, "#nodes tbody tr:nth-child(2) td:first-child", "node-b");
  // node-b's anonymous connection, as its mirror in Redis holds it.
  await untilText(page, "#nodes tbody tr:nth-child(2) td:nth-child(2)", "1");
  // The Redis server each node uses.
  await untilText(page, "#nodes tbody tr:nth-child(2) td:last-child", `127.0.0.1:${redis.port}`);
  await untilText(page, "#connections-anonymous", "1");
  assert.deepEqual(browser.pageErrors, []);
  await onB[Symbol.asyncDispose]();
});

Deno.test("the dashboard polls one refresh at a time, rides out a lost server, and asks again for a key that stops working", async () => {
  await using server = await startTestServer({ apiKey: [KEY] });
  await using browser = await launchBrowser();
  const page = await openWithKey(browser, server);
  await untilText(page, "#status", "Live");

  // A slow server: no second refresh starts while one is waiting.
  let inFlight = 0;
  let mostInFlight = 0;
  let slowAnswers = 0;
  const { promise: twoSlowAnswers, resolve: gotTwo } = Promise.withResolvers<void>();
  await page.route("**/stats", async (route) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the slow server
    try {
      await route.continue();
    } finally {
      inFlight--;
      if (++slowAnswers === 2) gotTwo();
    }
  });
  await withTimeout(twoSlowAnswers, "two slow answers", SHOW_MS * 2);
  await page.unroute("**/stats");
  assert.equal(mostInFlight, 1);

  // The server cannot be reached: the page says so, then carries on when it is back.
  await page.route(`${server.apiUrl}/**`, (route) => route.abort("connectionrefused"));
  await untilText(page, "#status", "The server cannot be reached; retrying");
  await page.unroute(`${server.apiUrl}/**`);
  await untilText(page, "#status", "Live");

  // The key stops working (rotated away): back to the question, nothing shown.
  await page.route("**/stats", (route) =>
    route.fulfill({
      status: 401,
      contentType: "application/json",
      body: '{"errors": ["authorization: unknown API key"]}',
    }));
  await untilShown(page, "#key-form");
  await untilText(page, "#key-error", "The key is no longer accepted.");
  assert.equal(await page.isHidden("#dashboard"), true);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("boreas-api-key")), null);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  assert.deepEqual(browser.pageErrors, []);
});
