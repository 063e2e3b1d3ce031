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

/** The webhooks `config` asks for; with no URL, a sink that drops everything. */
export function createWebhooks(
  config: Pick<Config, "webhookUrl" | "webhookSecret" | "webhookQueueSize">,
  { logger, metrics }: { logger: Logger; metrics: Metrics },
): Webhooks {
  const secret = config.webhookSecret;
  if (config.webhookUrl.length === 0 || secret === null) {
    return { ...NO_EVENTS, isOn: false, [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const senders = config.webhookUrl.map((url) =>
    new WebhookSender({ url, secret, queueSize: config.webhookQueueSize, logger, metrics })
  );
  return {
    isOn: true,
    emit(body: EventBody) {
      // An adapter's channels have webhooks of their own (a Pusher app's).
      if ("channel" in body && isAdapterChannel(body.channel)) return;
      const event = stamp(body);
      for (const sender of senders) sender.push(event);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(senders.map((sender) => sender[Symbol.asyncDispose]()));
    },
  };
}
