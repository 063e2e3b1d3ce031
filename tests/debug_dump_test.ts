import assert from "node:assert/strict";
import { DEBUG_PATHS, debugRoutes, renderRecipientDump } from "../src/api/debug.ts";
import { createRouter } from "../src/api/router.ts";
import { bannerListening, bannerStart } from "../src/banner.ts";
import { Hub, type Subscriber } from "../src/hub.ts";
import { silentLogger } from "../src/log.ts";
import { apiContext } from "./helpers.ts";

function subscriber(): Subscriber {
  return { send: () => true, close: () => {} };
}

Deno.test("renderRecipientDump() renders an empty hub exactly", () => {
  assert.equal(
    renderRecipientDump({ anonymous: 0, tokens: [], channels: [] }),
    "RECEIVER POOL REPORT\nanonymous: 0\nauthenticated:\n\t---\nchannels:\n \t---\n",
  );
});

Deno.test("renderRecipientDump() renders one row per token and channel", () => {
  const dump = renderRecipientDump({
    anonymous: 3,
    tokens: [["tok-1", 2], ["tok-2", 1]],
    channels: [["news", 2], ["a b/c", 1]],
  });
  assert.equal(
    dump,
    "RECEIVER POOL REPORT\n" +
      "anonymous: 3\n" +
      "authenticated:\n" +
      "\t - tok-1: 2\n" +
      "\t - tok-2: 1\n" +
      "channels:\n" +
      "\t - news: 2\n" +
      "\t - a b/c: 1\n",
  );
});

Deno.test("renderRecipientDump() keeps each empty marker when only the other has rows", () => {
  assert.equal(
    renderRecipientDump({ anonymous: 1, tokens: [["t", 1]], channels: [] }),
    "RECEIVER POOL REPORT\nanonymous: 1\nauthenticated:\n\t - t: 1\nchannels:\n \t---\n",
  );
  assert.equal(
    renderRecipientDump({ anonymous: 0, tokens: [], channels: [["c", 4]] }),
    "RECEIVER POOL REPORT\nanonymous: 0\nauthenticated:\n\t---\nchannels:\n\t - c: 4\n",
  );
});

Deno.test("debugRoutes() serves the recipient and token dumps in debug mode", async () => {
  const hub = new Hub();
  const tokens = ["tok-a", "tok-b"];
  const handle = createRouter(debugRoutes(apiContext({ hub, tokens, debug: true })), {
    logger: silentLogger(),
  });
  const sub = subscriber();
  hub.add(sub);
  hub.add(subscriber());
  hub.authenticate(sub, "tok-a");
  hub.updateChannels(sub, ["news"], []);

  const recipients = await handle(new Request("http://api.test/debug/recipient-dump"));
  assert.equal(recipients.status, 200);
  assert.equal(recipients.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(
    await recipients.text(),
    "RECEIVER POOL REPORT\nanonymous: 1\nauthenticated:\n\t - tok-a: 1\nchannels:\n\t - news: 1\n",
  );

  const dump = await handle(new Request("http://api.test/debug/token-dump/"));
  assert.equal(dump.status, 200);
  assert.equal(await dump.text(), "tok-a\ntok-b\n");
});

Deno.test("debugRoutes() returns no routes when debug mode is off", () => {
  assert.deepEqual(debugRoutes(apiContext({ debug: false })), []);
  const paths = debugRoutes(apiContext({ debug: true })).map((route) => route.path);
  assert.deepEqual(paths, [...DEBUG_PATHS]);
});

Deno.test("bannerStart() names the provider and token count without debug lines", () => {
  assert.deepEqual(
    bannerStart({ provider: "file", tokenCount: 3, debug: false, debugPaths: DEBUG_PATHS }),
    [
      "Using `file` to get authentication tokens...",
      "Done. Loaded 3 tokens.",
      "Configuring servers...",
    ],
  );
});

Deno.test("bannerStart() lists the debug paths in debug mode", () => {
  assert.deepEqual(
    bannerStart({ provider: "env", tokenCount: 0, debug: true, debugPaths: DEBUG_PATHS }),
    [
      "Using `env` to get authentication tokens...",
      "Done. Loaded 0 tokens.",
      "Configuring servers...",
      "Running in debug mode. Available debug urls are:",
      "\t- /debug/token-dump",
      "\t- /debug/recipient-dump",
    ],
  );
});

Deno.test("bannerListening() names both bound addresses, then Running...", () => {
  assert.deepEqual(bannerListening("127.0.0.1:8001", "[::1]:8002"), [
    "API endpoint configured to listen on 127.0.0.1:8001",
    "WebSocket endpoint configured to listen on [::1]:8002",
    "Running...",
  ]);
});
