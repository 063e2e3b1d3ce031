import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { Metrics } from "../src/metrics.ts";
import type { WebhookEvent } from "../src/webhooks/events.ts";
import { WebhookSender } from "../src/webhooks/sender.ts";

/** A local endpoint that refuses every batch with 500, counting requests. */
function refusingEndpoint() {
  let requests = 0;
  let onRequest = () => {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.body?.cancel();
    requests++;
    onRequest();
    return new Response(null, { status: 500 });
  });
  return {
    port: server.addr.port,
    untilRequests: (count: number) =>
      new Promise<void>((resolve) => {
        onRequest = () => requests >= count && resolve();
        onRequest();
      }),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function event(id: number): WebhookEvent {
  return { id: `e${id}`, type: "connection.opened", time: 0, node: "n" } as unknown as WebhookEvent;
}

/** Every log line a sender writes to `url` through queue-full, not-delivered, given-up and
 * dropped-at-shutdown, at debug level. */
async function logLinesOf(url: string, untilRequests: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", stderr: (line) => lines.push(line) });
  const sender = new WebhookSender({
    url,
    secret: "s",
    queueSize: 2,
    logger,
    metrics: new Metrics(),
    maxBatch: 1,
    maxWaitMs: 0,
    giveUpMs: 0,
    firstRetryMs: 1,
    timeoutMs: 1_000,
  });
  for (let i = 0; i < 4; i++) sender.push(event(i));
  await untilRequests();
  await sender[Symbol.asyncDispose]();
  return lines;
}

Deno.test("the webhook sender never logs the credentials of its URL", async () => {
  await using endpoint = refusingEndpoint();
  const lines = await logLinesOf(
    `http://hook-user:hook-pass@127.0.0.1:${endpoint.port}/hook`,
    () => endpoint.untilRequests(2),
  );
  for (const message of ["queue full", "not delivered", "given up"]) {
    assert.ok(lines.some((line) => line.includes(message)), `no "${message}" line in ${lines}`);
  }
  for (const line of lines) {
    assert.ok(!line.includes("hook-user") && !line.includes("hook-pass"), line);
  }
  assert.ok(lines.some((line) => line.includes(`http://127.0.0.1:${endpoint.port}/hook`)));
});

Deno.test("the webhook sender's network errors do not quote the credentials", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", stderr: (line) => lines.push(line) });
  const sender = new WebhookSender({
    url: `http://hook-user:hook-pass@127.0.0.1:${port}/hook`,
    secret: "s",
    queueSize: 10,
    logger,
    metrics: new Metrics(),
    maxWaitMs: 0,
    giveUpMs: 0,
  });
  sender.push(event(1));
  await sender[Symbol.asyncDispose]();
  assert.ok(lines.some((line) => line.includes("not delivered")), lines.join("\n"));
  for (const line of lines) {
    assert.ok(!line.includes("hook-user") && !line.includes("hook-pass"), line);
  }
});

Deno.test("the webhook sender's shutdown line does not show the credentials", async () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let onRequest = () => {};
  const requested = new Promise<void>((resolve) => onRequest = resolve);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    onRequest();
    await released;
    return new Response(null, { status: 204 });
  });
  const lines: string[] = [];
  const sender = new WebhookSender({
    url: `http://hook-user:hook-pass@127.0.0.1:${server.addr.port}/hook`,
    secret: "s",
    queueSize: 10,
    logger: createLogger({ level: "debug", stderr: (line) => lines.push(line) }),
    metrics: new Metrics(),
    maxBatch: 1,
    maxWaitMs: 0,
    // Long enough that the first POST, held by the server, is still in flight at the shutdown
    // (a loaded machine took 50 ms to get there); the shutdown aborts it.
    timeoutMs: 500,
  });
  sender.push(event(1));
  sender.push(event(2));
  await requested;
  await sender[Symbol.asyncDispose]();
  release();
  await server.shutdown();
  assert.ok(lines.some((line) => line.includes("dropped at shutdown")), lines.join("\n"));
  for (const line of lines) {
    assert.ok(!line.includes("hook-user") && !line.includes("hook-pass"), line);
  }
});
