/** The client bundle in a real Chromium, from a page on another origin than the server's:
 * subscribing, reconnecting after a restart, CORS on the API and origin checks on the
 * WebSocket, as a browser enforces them. */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { BoreasApi } from "../client/mod.ts";
import type * as Client from "../client/mod.ts";
import { launchBrowser, type PageServer, startPageServer, type TestBrowser } from "./browser.ts";
import { startTestServer, TestClient, type TestServer, WAIT_MS, withTimeout } from "./helpers.ts";
import { endpointsOf, PROCESS_WAIT_MS, spawnBoreas, tempDir } from "./process_helpers.ts";

/** What the test page (`CLIENT_PAGE`) and these tests keep on the page's `globalThis`. */
interface PageGlobals {
  boreas: Pick<typeof Client, "BoreasApi" | "BoreasSubscriber">;
  subscriber: Client.BoreasSubscriber;
  states: Client.SubscriberState[];
  socket: WebSocket;
}

/** What a WebSocket opened in the page saw: the events up to `open` or `close`. */
interface SocketOutcome {
  events: string[];
  code?: number;
}

/** Opens the client page of `site` and waits for its module to have loaded the bundle. */
async function openClientPage(browser: TestBrowser, site: PageServer): Promise<Page> {
  const page = await browser.open(site.url());
  await page.waitForFunction(() => "boreas" in globalThis, undefined, { timeout: WAIT_MS });
  return page;
}

/** Starts a `BoreasSubscriber` in the page, with short back-off, and waits until it is open. */
async function subscribeInPage(
  page: Page,
  options: {
    url: string;
    token: string;
    channels: string[];
    transport?: Client.SubscriberTransport;
  },
): Promise<void> {
  await withTimeout(
    page.evaluate(async ({ url, token, channels, transport, ms }) => {
      const page = globalThis as unknown as PageGlobals;
      page.states = [];
      page.subscriber = new page.boreas.BoreasSubscriber({
        url,
        token,
        channels,
        transport,
        reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
        onStateChange: (state) => page.states.push(state),
      });
      await page.subscriber.untilOpen({ signal: AbortSignal.timeout(ms) });
    }, { transport: "websocket" as const, ...options, ms: WAIT_MS }),
    "the page's subscriber to open",
  );
}

/** Resolves once the page's subscriber is in `state`. */
async function untilPageState(
  page: Page,
  state: Client.SubscriberState,
  ms = WAIT_MS,
): Promise<void> {
  await withTimeout(
    page.evaluate(async ({ state, ms }) => {
      const { subscriber } = globalThis as unknown as PageGlobals;
      await subscriber.untilState(state, { signal: AbortSignal.timeout(ms) });
    }, { state, ms }),
    `the page's subscriber to be ${state}`,
    ms + 500,
  );
}

/** The next broadcast the page's subscriber yields. */
function nextInPage(page: Page): Promise<unknown> {
  return withTimeout(
    page.evaluate(async () => {
      const { subscriber } = globalThis as unknown as PageGlobals;
      return (await subscriber[Symbol.asyncIterator]().next()).value;
    }),
    "a broadcast in the page",
  );
}

/** Opens a plain WebSocket to `url` in the page; resolves at its `open` (the socket stays
 * open, as `globalThis.socket`) or its `close`. */
function openSocketInPage(page: Page, url: string): Promise<SocketOutcome> {
  return withTimeout(
    page.evaluate((url) =>
      new Promise<SocketOutcome>((resolve) => {
        const events: string[] = [];
        const socket = new WebSocket(url);
        (globalThis as unknown as PageGlobals).socket = socket;
        socket.onopen = () => resolve({ events: [...events, "open"] });
        socket.onerror = () => events.push("error");
        socket.onclose = (event) => resolve({ events: [...events, "close"], code: event.code });
      }), url),
    `a WebSocket to ${url} in the page to open or close`,
  );
}

/** Joins `channel` with `token` from Deno (no `Origin` header) and waits for the hub. */
async function subscribeFromDeno(
  server: TestServer,
  token: string,
  channel: string,
): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  client.send({ access_token: token });
  client.send({ channels: { join: [channel], leave: [] } });
  await server.untilMembers(channel, 1);
  return client;
}

Deno.test("the client bundle in a page subscribes and receives a broadcast", async () => {
  await using server = await startTestServer();
  await using site = await startPageServer();
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  await subscribeInPage(page, {
    url: server.wsUrl,
    token: await server.mintToken(),
    channels: ["news"],
  });
  await server.untilMembers("news", 1);
  const api = new BoreasApi({ url: server.apiUrl });
  assert.equal(await api.broadcast("news", { text: "hello", n: 1 }), 1);
  assert.deepEqual(await nextInPage(page), { message: { text: "hello", n: 1 }, channel: "news" });
  await page.evaluate(() => (globalThis as unknown as PageGlobals).subscriber.close());
  await server.untilConnections(0);
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("the client bundle in a page subscribes over SSE, from another origin, and resumes", async () => {
  await using server = await startTestServer({ historySize: 100 });
  await using site = await startPageServer();
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  const token = await server.mintToken();
  await subscribeInPage(page, { url: server.wsUrl, token, channels: ["news"], transport: "sse" });
  await server.untilMembers("news", 1);
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as PageGlobals).subscriber.transport),
    "sse",
  );
  const api = new BoreasApi({ url: server.apiUrl });
  assert.equal(await api.broadcast("news", "one"), 1);
  assert.deepEqual(await nextInPage(page), { message: "one", channel: "news", offset: 1 });
  // The server drops the stream and the page cannot reconnect for a while; what is published
  // meanwhile is replayed when it does, from its Last-Event-ID.
  await page.route("**/events?*", (route) => route.abort("connectionrefused"));
  server.hub.disconnectToken(token, 1012, "service restart");
  await server.untilConnections(0);
  assert.equal(await api.broadcast("news", "two"), 0);
  await page.unroute("**/events?*");
  await untilPageState(page, "open");
  await server.untilMembers("news", 1);
  assert.deepEqual(await nextInPage(page), { message: "two", channel: "news", offset: 2 });
  await page.evaluate(() => (globalThis as unknown as PageGlobals).subscriber.close());
  await server.untilConnections(0);
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("the client in a page reconnects after main.ts restarts on the same ports", async () => {
  await using dir = await tempDir();
  // The token store lets the page's token outlive the first process.
  const args = (apiPort: number, wsPort: number) => [
    ...["--api-port", String(apiPort), "--ws-port", String(wsPort)],
    ...["--token-store", `${dir.path}/tokens.log`],
  ];
  await using first = await spawnBoreas(args(0, 0), { cwd: dir.path });
  const endpoints = endpointsOf(await first.linesUntil());
  await using site = await startPageServer();
  await using browser = await launchBrowser();
  const api = new BoreasApi({ url: endpoints.apiUrl });
  const page = await openClientPage(browser, site);
  await subscribeInPage(page, {
    url: endpoints.wsUrl,
    token: await api.createToken(),
    channels: ["news"],
  });
  assert.equal(await api.broadcast("news", { n: 1 }), 1);
  assert.deepEqual(await nextInPage(page), { message: { n: 1 }, channel: "news" });

  first.kill("SIGTERM");
  assert.equal((await first.exited()).code, 0);
  await untilPageState(page, "reconnecting");
  await using second = await spawnBoreas(args(endpoints.apiPort, endpoints.wsPort), {
    cwd: dir.path,
  });
  assert.deepEqual(endpointsOf(await second.linesUntil()), endpoints);
  await untilPageState(page, "open", PROCESS_WAIT_MS);
  assert.equal(await api.broadcast("news", { n: 2 }), 1, "the page re-joined news");
  assert.deepEqual(await nextInPage(page), { message: { n: 2 }, channel: "news" });
  assert.deepEqual(
    await page.evaluate(() => (globalThis as unknown as PageGlobals).states),
    ["open", "reconnecting", "open"],
  );

  await page.evaluate(() => (globalThis as unknown as PageGlobals).subscriber.close());
  second.kill("SIGTERM");
  const exit = await second.exited();
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("BoreasApi in a page calls a server started with --cors-origin <the page's origin>", async () => {
  await using site = await startPageServer();
  await using server = await startTestServer({ corsOrigin: [site.origin] });
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  const token = await withTimeout(
    page.evaluate((url) => {
      const { BoreasApi } = (globalThis as unknown as PageGlobals).boreas;
      return new BoreasApi({ url }).createToken();
    }, server.apiUrl),
    "createToken() in the page",
  );
  await using client = await subscribeFromDeno(server, token, "news");
  // A JSON body: the browser sends a preflight first, which the server must allow.
  const recipients = await withTimeout(
    page.evaluate((url) => {
      const { BoreasApi } = (globalThis as unknown as PageGlobals).boreas;
      return new BoreasApi({ url }).broadcast("news", { from: "page" });
    }, server.apiUrl),
    "broadcast() in the page",
  );
  assert.equal(recipients, 1);
  assert.deepEqual(await client.next(), { message: { from: "page" }, channel: "news" });
  assert.deepEqual(browser.pageErrors, []);
});

Deno.test("BoreasApi in a page gets fetch's TypeError from a server without --cors-origin", async () => {
  await using server = await startTestServer();
  await using site = await startPageServer();
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  const outcome = await withTimeout(
    page.evaluate(async (url) => {
      const { BoreasApi } = (globalThis as unknown as PageGlobals).boreas;
      try {
        return `resolved: ${await new BoreasApi({ url }).createToken()}`;
      } catch (error) {
        return `${(error as Error).name}: ${(error as Error).message}`;
      }
    }, server.apiUrl),
    "createToken() in the page to settle",
  );
  assert.equal(outcome, "TypeError: Failed to fetch");
  // A POST without a body needs no preflight: the server minted the token, and only the
  // browser withheld the answer from the page.
  const dump = await server.api("/debug/token-dump");
  assert.equal((await dump.text()).split("\n").filter((line) => line !== "").length, 1);
});

Deno.test("--allowed-origins refuses a page's WebSocket from an origin it does not list", async () => {
  await using server = await startTestServer({ allowedOrigins: ["http://some-other-origin"] });
  await using site = await startPageServer();
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  // The browser says nothing of the 403 to the page: only error, then close with 1006.
  assert.deepEqual(await openSocketInPage(page, server.wsUrl), {
    events: ["error", "close"],
    code: 1006,
  });
  assert.equal(server.metrics.connectionsRefused, 1);
  assert.equal(server.hub.connectionCount, 0);
});

Deno.test("--allowed-origins accepts a page's WebSocket from a listed origin", async () => {
  await using site = await startPageServer();
  await using server = await startTestServer({
    allowedOrigins: ["http://some-other-origin", site.origin],
  });
  await using browser = await launchBrowser();
  const page = await openClientPage(browser, site);
  assert.deepEqual(await openSocketInPage(page, server.wsUrl), { events: ["open"] });
  await server.untilConnections(1);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).socket.close());
  await server.untilConnections(0);
  assert.equal(server.metrics.connectionsRefused, 0);
});
