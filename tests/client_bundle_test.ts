/** `deno task build:client` writes one browser ES module of the client, which loads and works
 * as the client does (here in Deno, whose WebSocket and fetch are the web platform's). */

import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { buildClientInto } from "./client_build.ts";
import { startTestServer } from "./helpers.ts";
import { tempDir } from "./process_helpers.ts";

Deno.test("deno task build:client bundles the client into one working browser module", async () => {
  await using dir = await tempDir();
  const output = `${dir.path}/boreas-client.js`;
  const task = denoJson.tasks["build:client"];
  assert.match(
    task,
    /^deno bundle --platform browser --format esm --output dist\/boreas-client\.js client\/mod\.ts$/,
  );
  await buildClientInto(output);
  const source = await Deno.readTextFile(output);
  assert.ok(!/^\s*import\s/m.test(source), "one file: no import statements left");
  const client = await import(`file://${output}`) as typeof import("../client/mod.ts");
  await using server = await startTestServer({ joinLeave: ["news"] });
  const api = new client.BoreasApi({ url: server.apiUrl });
  const token = await api.createToken({ user: "alice" });
  await using subscriber = new client.BoreasSubscriber({
    url: server.wsUrl,
    token,
    channels: ["news"],
  });
  await subscriber.untilOpen();
  assert.deepEqual(subscriber.members("news"), {
    channel: "news",
    users: ["alice"],
    isTruncated: false,
  });
  assert.equal(await api.broadcast("news", { text: "hello" }), 1);
  const { value } = await subscriber[Symbol.asyncIterator]().next();
  assert.deepEqual(value, { message: { text: "hello" }, channel: "news" });
});
