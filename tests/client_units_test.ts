import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_RECONNECT } from "../client/mod.ts";
import { resolveReconnect } from "../client/backoff.ts";
import { MAX_AUTH_TIMEOUTS, terminalError, webSocketUrl } from "../client/policy.ts";
import { MessageQueue } from "../client/queue.ts";

Deno.test("backoffDelay() grows by factor up to the cap", () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 3, random: () => 1 };
  const delays = [0, 1, 2, 3, 50, 5_000].map((attempt) => backoffDelay(attempt, options));
  assert.deepEqual(delays, [100, 300, 900, 1_000, 1_000, 1_000]);
});

Deno.test("backoffDelay() jitters within the upper half of the capped delay", () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2 };
  assert.equal(backoffDelay(1, { ...options, random: () => 0 }), 100);
  assert.equal(backoffDelay(1, { ...options, random: () => 0.5 }), 150);
  assert.equal(backoffDelay(9, { ...options, random: () => 0 }), 500);
  for (let attempt = 0; attempt < 20; attempt++) {
    const delay = backoffDelay(attempt, options);
    assert.ok(delay >= 50 && delay <= 1_000, `attempt ${attempt}: ${delay}`);
  }
});

Deno.test("backoffDelay() uses the defaults and keeps a zero delay zero", () => {
  assert.equal(backoffDelay(0, { random: () => 1 }), DEFAULT_RECONNECT.initialDelayMs);
  assert.equal(backoffDelay(10_000, { random: () => 1 }), DEFAULT_RECONNECT.maxDelayMs);
  assert.equal(backoffDelay(10_000, { initialDelayMs: 0 }), 0);
});

Deno.test("resolveReconnect() names the bad value", () => {
  assert.throws(() => resolveReconnect({ initialDelayMs: -1 }), /initialDelayMs/);
  assert.throws(() => resolveReconnect({ initialDelayMs: 10, maxDelayMs: 5 }), /maxDelayMs/);
  assert.throws(() => resolveReconnect({ factor: Number.NaN }), /factor/);
  assert.deepEqual(resolveReconnect({ factor: 1.5 }), { ...DEFAULT_RECONNECT, factor: 1.5 });
});

Deno.test("terminalError() ends on 4001, on repeated 4003, or when reconnecting is off", () => {
  const revoked = terminalError({ code: 4001, reason: "token revoked" }, {
    authTimeouts: 0,
    canReconnect: true,
  });
  assert.equal(revoked?.kind, "token-revoked");
  assert.equal(revoked?.closeCode, 4001);
  const timeout = { code: 4003, reason: "authentication timeout" };
  for (let authTimeouts = 1; authTimeouts < MAX_AUTH_TIMEOUTS; authTimeouts++) {
    assert.equal(terminalError(timeout, { authTimeouts, canReconnect: true }), undefined);
  }
  const timedOut = terminalError(timeout, { authTimeouts: MAX_AUTH_TIMEOUTS, canReconnect: true });
  assert.equal(timedOut?.kind, "auth-timeout");
  for (const code of [1001, 1006, 1008, 1009, 4000]) {
    const close = { code, reason: "" };
    assert.equal(terminalError(close, { authTimeouts: 0, canReconnect: true }), undefined);
    const error = terminalError(close, { authTimeouts: 0, canReconnect: false });
    assert.equal(error?.kind, "disconnected");
    assert.equal(error?.message, `connection closed (${code})`);
  }
});

Deno.test("webSocketUrl() takes ws:, wss:, and http(s): as ws(s):", () => {
  assert.equal(webSocketUrl("ws://h:1"), "ws://h:1/");
  assert.equal(webSocketUrl(new URL("http://h:1/")), "ws://h:1/");
  assert.equal(webSocketUrl("https://h/x"), "wss://h/x");
  assert.throws(() => webSocketUrl("file:///x"), TypeError);
  assert.throws(() => webSocketUrl("not a url"), TypeError);
});

Deno.test("MessageQueue hands items out in order, then ends after the queued ones", async () => {
  const queue = new MessageQueue<number>();
  const waiting = queue.next();
  queue.push(1);
  queue.push(2);
  queue.push(3);
  assert.deepEqual(await waiting, { done: false, value: 1 });
  queue.end();
  queue.push(4);
  assert.equal(queue.size, 2);
  assert.deepEqual(await queue.next(), { done: false, value: 2 });
  assert.deepEqual(await queue.next(), { done: false, value: 3 });
  assert.deepEqual(await queue.next(), { done: true, value: undefined });
});

Deno.test("MessageQueue ended with an error rejects waiting and later readers", async () => {
  const queue = new MessageQueue<number>();
  const waiting = queue.next();
  queue.end(new Error("gone"));
  queue.end(); // ignored: it ends once
  await assert.rejects(waiting, /gone/);
  await assert.rejects(queue.next(), /gone/);
});

Deno.test("MessageQueue keeps order across compactions", async () => {
  const queue = new MessageQueue<number>();
  for (let i = 0; i < 5_000; i++) queue.push(i);
  for (let i = 0; i < 5_000; i++) {
    if (i === 2_500) queue.push(5_000);
    assert.deepEqual(await queue.next(), { done: false, value: i });
  }
  assert.deepEqual(await queue.next(), { done: false, value: 5_000 });
  assert.equal(queue.size, 0);
});
