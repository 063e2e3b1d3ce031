/**
 * @module
 * A real local webhook receiver for tests: it checks every batch's signature, keeps the events,
 * and can answer 500 for a while or never answer at all.
 */

import { verifyBody } from "../src/hooks/signature.ts";
import { withTimeout } from "./helpers.ts";

/** A received event. */
export type ReceivedEvent = Record<string, unknown> & { id: string; type: string; time: number };

/** The receiver and what it saw. */
export interface WebhookReceiver extends AsyncDisposable {
  readonly url: string;
  readonly events: ReceivedEvent[];
  /** How many requests came, and how many had a bad signature. */
  readonly requests: { total: number; badSignatures: number; batchSizes: number[] };
  /** Answer the next `count` requests with 500. */
  failNext(count: number): void;
  /** Never answer (until disposed). */
  hang(): void;
  /** Resolves once `predicate(events)` holds; rejects after `ms`. */
  until(predicate: (events: ReceivedEvent[]) => boolean, what: string, ms?: number): Promise<void>;
}

/** Starts a receiver on a free loopback port, checking signatures made with `secret`. */
export function startReceiver(secret: string): WebhookReceiver {
  const events: ReceivedEvent[] = [];
  const requests = { total: 0, badSignatures: 0, batchSizes: [] as number[] };
  let failures = 0;
  let isHanging = false;
  const hung: Array<() => void> = [];
  let wake: () => void = () => {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.text();
    requests.total++;
    if (isHanging) {
      await new Promise<void>((resolve) => hung.push(resolve));
      return new Response(null, { status: 503 });
    }
    const header = request.headers.get("boreas-signature") ?? "";
    if (!verifyBody(secret, { body, header })) {
      requests.badSignatures++;
      return new Response(null, { status: 400 });
    }
    if (failures > 0) {
      failures--;
      return new Response(null, { status: 500 });
    }
    const batch = JSON.parse(body) as { events: ReceivedEvent[] };
    requests.batchSizes.push(batch.events.length);
    events.push(...batch.events);
    wake();
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks`,
    events,
    requests,
    failNext: (count) => failures = count,
    hang: () => isHanging = true,
    async until(predicate, what, ms = 5_000) {
      const reached = (async () => {
        while (!predicate(events)) await new Promise<void>((resolve) => wake = resolve);
      })();
      await withTimeout(reached, what, ms);
    },
    async [Symbol.asyncDispose]() {
      for (const resolve of hung) resolve();
      await server.shutdown();
    },
  };
}

/** The types of `events` about `channel`, in order. */
export function channelEvents(events: readonly ReceivedEvent[], channel: string): string[] {
  return events.filter((event) => event.channel === channel).map((event) => event.type);
}
