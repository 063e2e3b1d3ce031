/**
 * @module
 * Webhooks (`--webhook-url`, `--webhook-secret`): events stamped and handed to one sender per
 * URL. Emitting never waits on the network.
 */

import { isAdapterChannel } from "../channel.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type EventBody, type EventSink, NO_EVENTS, stamp } from "./events.ts";
import { WebhookSender } from "./sender.ts";

/** The event sink of a server, and what stops it. */
export interface Webhooks extends EventSink, AsyncDisposable {
  /** Whether any URL is configured. */
  readonly isOn: boolean;
}

/** The webhooks `config` asks for; with no URL, and no `adapter`, a sink that drops
 * everything. An adapter's channels (a Pusher app's) have webhooks of their own: their events
 * go to `adapter`, when given, and never to `--webhook-url`. */
export function createWebhooks(
  config: Pick<Config, "webhookUrl" | "webhookSecret" | "webhookQueueSize">,
  { logger, metrics, adapter }: { logger: Logger; metrics: Metrics; adapter?: EventSink },
): Webhooks {
  const secret = config.webhookSecret;
  const senders = config.webhookUrl.length === 0 || secret === null ? [] : config.webhookUrl.map(
    (url) =>
      new WebhookSender({ url, secret, queueSize: config.webhookQueueSize, logger, metrics }),
  );
  if (senders.length === 0 && adapter === undefined) {
    return { ...NO_EVENTS, isOn: false, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  return {
    isOn: true,
    emit(body: EventBody) {
      if ("channel" in body && isAdapterChannel(body.channel)) return adapter?.emit(body);
      if (senders.length === 0) return;
      const event = stamp(body);
      for (const sender of senders) sender.push(event);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(senders.map((sender) => sender[Symbol.asyncDispose]()));
    },
  };
}
