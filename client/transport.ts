/**
 * @module
 * Which transport the subscriber's next link goes over: always a WebSocket, always Server-Sent
 * Events, or, with `auto`, a WebSocket until WebSockets fail to open twice in a row (no answer
 * to the token came over them), then SSE for the rest of the subscriber's life. Makes the
 * links; knows nothing of back-off.
 */

import { BoreasSubscriberError } from "./errors.ts";
import type { Link, LinkContext } from "./link.ts";
import type { SubscriberSettings } from "./policy.ts";
import { SseLink } from "./sse_link.ts";
import type { SubscriberTransport } from "./subscriber_types.ts";
import { WebSocketLink } from "./websocket_link.ts";

/** WebSockets that fail to open in a row after which `auto` goes over to SSE. */
export const MAX_WEBSOCKET_FAILURES = 2;

/** Picks each link's transport, and makes the link. */
export class TransportPicker {
  readonly #transport: SubscriberTransport;
  #isOnSse: boolean;
  #failures = 0;

  /** `auto` starts on SSE when there is no WebSocket class at all. */
  constructor(settings: SubscriberSettings) {
    this.#transport = settings.transport;
    this.#isOnSse = settings.transport === "sse" ||
      (settings.transport === "auto" && settings.WebSocket === undefined);
  }

  /** The transport the next link goes over (the current one's, while it is open). */
  get current(): "websocket" | "sse" {
    return this.#isOnSse ? "sse" : "websocket";
  }

  /** A new link for `context`. Throws a `disconnected` `BoreasSubscriberError` when no
   * WebSocket can be made; `auto` goes over to SSE at once instead, since the next attempt
   * would fail the same way. */
  open(context: LinkContext): Link {
    const { url, WebSocket } = context.settings;
    if (this.#isOnSse || WebSocket === undefined) return new SseLink(context);
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      if (this.#transport !== "auto") {
        throw new BoreasSubscriberError("disconnected", `cannot open a WebSocket: ${error}`, {
          cause: error,
        });
      }
      this.#isOnSse = true;
      return new SseLink(context);
    }
    return new WebSocketLink(socket, context);
  }

  /** Counts `link`, now closed, for `auto`: a WebSocket that closed before the server
   * answered its token is a failure (refused, unanswered, timed out, or lost on the way),
   * one the server answered starts the count again. */
  closed(link: Link): void {
    if (this.#transport !== "auto" || !(link instanceof WebSocketLink)) return;
    this.#failures = link.wasAnswered ? 0 : this.#failures + 1;
    if (this.#failures >= MAX_WEBSOCKET_FAILURES) this.#isOnSse = true;
  }
}
