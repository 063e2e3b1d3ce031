/** DNS rebinding, as a browser does it: a page whose host name resolves to 127.0.0.1 is
 * same-origin with a loopback Boreas, but still sends its own name as `Host`. */

import assert from "node:assert/strict";
import { startTestServer, withTimeout } from "./helpers.ts";
import { launchBrowser } from "./browser.ts";

const REBOUND = "rebind.test";

Deno.test("a page whose name rebinds to 127.0.0.1 can neither read tokens, mint them nor open a WebSocket", async () => {
  await using server = await startTestServer();
  await server.mintToken();
  await using browser = await launchBrowser({ hostResolverRules: `MAP ${REBOUND} 127.0.0.1` });
  // A public route gives the page the API's origin under the rebound name, as the attacker's
  // own page would have once the name points here.
  const page = await browser.open(`http://${REBOUND}:${server.apiAddr.port}/health`);
  const answers = await withTimeout(
    page.evaluate(async () => {
      const dump = await fetch("/debug/token-dump");
      const mint = await fetch("/token/", { method: "POST" });
      return [[dump.status, await dump.text()], [mint.status, await mint.text()]];
    }),
    "the rebound page's requests",
  );
  const error = `host: "${REBOUND}:${server.apiAddr.port}" is not allowed (see --allowed-hosts)`;
  const refused = `{"errors": [${JSON.stringify(error)}]}`;
  assert.deepEqual(answers, [[403, refused], [403, refused]]);

  const wsUrl = `ws://${REBOUND}:${server.wsAddr.port}/`;
  const opened = await withTimeout(
    page.evaluate((url) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url);
        socket.onopen = () => {
          socket.close();
          resolve("open");
        };
        socket.onclose = (event) => resolve(`closed ${event.code}`);
      }), wsUrl),
    "the rebound page's WebSocket",
  );
  assert.equal(opened, "closed 1006");
  assert.equal(server.metrics.connectionsRefused, 1);
  assert.equal(await server.tokens.count(), 1);
});
