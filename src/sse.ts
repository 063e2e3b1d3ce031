/**
 * @module
 * The Server-Sent Events transport (`GET /events` on the WebSocket listener), for clients that
 * cannot use WebSockets. A token (`Authorization: Bearer T` or `?access_token=T`) and channels
 * (`?channel=a&channel=b`) are given up front; each broadcast is a `data:` line holding the
 * WebSocket frame's JSON; with history on, each event's `id:` encodes every channel's position,
 * and `Last-Event-ID` resumes as a join with `since` does. A stream counts as a connection
 * everywhere a WebSocket does, and is closed with a final `event: close`.
 */

import { checkAccessToken } from "./access.ts";
import { channelNameProblem } from "./channel.ts";
import type { Membership } from "./cluster/membership.ts";
import { errorResponse, HttpError } from "./api/response.ts";
import { GrantKeeper } from "./grant_keeper.ts";
import { grantsChannel, type TokenGrant } from "./grants.ts";
import type { History, Position, Resume } from "./history.ts";
import type { Hub, Subscriber } from "./hub.ts";
import type { JwtVerifier } from "./jwt.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { CLOSE } from "./protocol.ts";
import { JoinGate } from "./resume.ts";
import { tokenFingerprint, type TokenRegistry } from "./tokens.ts";
import type { BlockCheck } from "./users.ts";
import { ConnectionEvents, type EventSink } from "./webhooks/events.ts";
import { clientReason } from "./cluster/errors.ts";
import { errorMessage } from "./text.ts";

/** How often a comment line keeps an idle stream open through proxies, in milliseconds. */
export const KEEPALIVE_MS = 15_000;

/** What an SSE stream shares with the server. */
export interface SseContext {
  readonly hub: Hub;
  readonly tokens: TokenRegistry;
  readonly blocks: BlockCheck;
  readonly jwt: JwtVerifier | null;
  readonly membership: Membership;
  readonly history: History | null;
  readonly events: EventSink;
  readonly nodeId: string | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly maxChannelsPerConnection: number;
  readonly maxBufferedBytes: number;
  readonly keepAliveMs?: number;
}

/** Tracks the open streams, with the WebSockets, for `--max-connections` and shutdown. */
export interface StreamTracker {
  forget(stream: SseStream): void;
}

const UTF8 = new TextEncoder();

/** Answers `GET /events`: an error before anything streams, or the stream. */
export async function openSse(
  request: Request,
  { context, tracker }: {
    context: SseContext;
    tracker: StreamTracker & { add(s: SseStream): void };
  },
): Promise<Response> {
  const url = new URL(request.url);
  const token = bearerOf(request) ?? url.searchParams.get("access_token");
  if (token === null || token === "") {
    return errorResponse(
      new HttpError(401, "access_token: expected Authorization: Bearer T or ?access_token=T"),
    );
  }
  const channels = url.searchParams.getAll("channel");
  const problem = channelsProblem(channels, context.maxChannelsPerConnection);
  if (problem !== null) return errorResponse(new HttpError(400, problem));
  const checked = await checkAccessToken(token, context);
  if (!checked.ok) {
    const status = checked.error.includes("cannot be checked now") ? 503 : 401;
    return errorResponse(new HttpError(status, checked.error));
  }
  const denied = channels.findIndex((channel) => !grantsChannel(checked.grant.channels, channel));
  if (denied !== -1) {
    return errorResponse(new HttpError(403, `channel[${denied}]: not permitted by this token`));
  }
  const stream = new SseStream(context, tracker);
  tracker.add(stream);
  const failure = await stream.start(token, checked.grant, {
    channels,
    since: parsePositions(request.headers.get("last-event-id")),
  });
  if (failure !== null) return errorResponse(new HttpError(503, failure));
  return new Response(stream.body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}

/** One SSE client, as the hub sees it. */
export class SseStream implements Subscriber {
  readonly body: ReadableStream<Uint8Array>;
  readonly #context: SseContext;
  readonly #tracker: StreamTracker;
  readonly #grant = new GrantKeeper();
  readonly #joins = new JoinGate();
  readonly #positions = new Map<string, Position>();
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #events: ConnectionEvents;
  #isClosed = false;

  constructor(context: SseContext, tracker: StreamTracker) {
    this.#context = context;
    this.#tracker = tracker;
    this.#events = new ConnectionEvents(context.events, context.nodeId);
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      // The client went away.
      cancel: () => this.#finish({ code: 1001, reason: "client went away" }),
    }, new ByteLengthQueuingStrategy({ highWaterMark: context.maxBufferedBytes }));
  }

  /** Joins the hub, authenticated, in `channels`; writes the recovery events, the positions,
   * the replay and then the live frames held meanwhile. Returns why it could not (the history
   * could not be read; the stream is then undone), or null. */
  async start(
    token: string,
    grant: TokenGrant,
    { channels, since }: { channels: string[]; since: ReadonlyMap<string, Position> },
  ): Promise<string | null> {
    const { hub, membership, history, logger } = this.#context;
    hub.add(this);
    hub.authenticate(this, token, grant.user);
    this.#grant.set(grant, () => this.close(CLOSE.expired.code, CLOSE.expired.reason));
    this.#events.authenticated(tokenFingerprint(token), grant.user);
    this.#joins.hold();
    hub.updateChannels(this, channels, [], this.#context.maxChannelsPerConnection);
    await membership.synced();
    let resume: Resume = { states: new Map(), replay: [] };
    if (history !== null) {
      try {
        resume = await history.resume(channels, since);
      } catch (error) {
        // Without positions the stream cannot keep its promise: undo it, and say why.
        logger.warn("SSE positions not read", { error: errorMessage(error) });
        this.#finish({ code: 1011, reason: "history unavailable" });
        return `channel: cannot be joined now (${clientReason(error)})`;
      }
    } else {
      // Positions from a server with history: say that they cannot be resumed here.
      for (const channel of channels) {
        if (since.has(channel)) this.#writeRecovery({ channel, recovered: false });
      }
    }
    for (const [channel, state] of resume.states) {
      // A resumed channel's ids start where the client was: its replay is still to come.
      const from = state.recovered === true ? since.get(channel)?.offset : undefined;
      this.#positions.set(channel, { offset: from ?? state.offset, epoch: state.epoch });
      if (state.recovered === false) {
        this.#writeRecovery({
          channel,
          recovered: false,
          offset: state.offset,
          epoch: state.epoch,
        });
      }
    }
    // Every channel's position before anything is sent, so that a stream dropped before its
    // first message still resumes from here (browsers keep an id that comes without data).
    if (this.#positions.size > 0) this.#write(`id: ${encodePositions(this.#positions)}\n\n`);
    this.#joins.release(resume, (frame, channel, offset) => this.send(frame, channel, offset));
    this.#keepAlive = setInterval(
      () => this.#write(": keepalive\n\n"),
      this.#context.keepAliveMs ?? KEEPALIVE_MS,
    );
    return null;
  }

  send(frame: string, channel?: string, offset?: number): boolean {
    if (this.#isClosed) return false;
    if (this.#joins.intercept(frame, channel, offset)) return true;
    if ((this.#controller.desiredSize ?? 0) < 0) {
      this.#context.metrics.slowConsumersDropped++;
      this.close(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason);
      return false;
    }
    let id = "";
    if (channel !== undefined && offset !== undefined) {
      const known = this.#positions.get(channel);
      this.#positions.set(channel, { offset, epoch: known?.epoch ?? "" });
      id = `id: ${encodePositions(this.#positions)}\n`;
    }
    this.#write(`${id}data: ${frame}\n\n`);
    return true;
  }

  #writeRecovery(recovery: Record<string, unknown>): void {
    this.#write(`event: recovery\ndata: ${JSON.stringify(recovery)}\n\n`);
  }

  /** Sends the final `event: close` with `code` and `reason`, and ends the stream. */
  close(code: number, reason: string): void {
    if (this.#isClosed) return;
    this.#write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    this.#finish({ code, reason });
    try {
      this.#controller.close();
    } catch {
      // Already closed by the client.
    }
  }

  #write(text: string): void {
    if (this.#isClosed) return;
    try {
      this.#controller.enqueue(UTF8.encode(text));
    } catch {
      this.#finish({ code: 1006, reason: "stream closed" });
    }
  }

  #finish({ code, reason }: { code: number; reason: string }): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#keepAlive);
    this.#grant[Symbol.dispose]();
    const { hub } = this.#context;
    hub.remove(this);
    this.#tracker.forget(this);
    this.#events.closed(code, reason);
  }
}

function bearerOf(request: Request): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  return match === null ? null : match[1]!;
}

function channelsProblem(channels: readonly string[], max: number): string | null {
  if (channels.length === 0) return "channel: expected at least one ?channel=NAME";
  if (channels.length > max) return `channel: at most ${max} channels per connection`;
  for (const [i, channel] of channels.entries()) {
    const problem = channelNameProblem(channel);
    if (problem !== null) return `channel[${i}]: ${problem}`;
  }
  return null;
}

/** An event id holding every channel's position: `channel=offset:epoch`, comma-separated, the
 * channel percent-encoded. */
export function encodePositions(positions: ReadonlyMap<string, Position>): string {
  return [...positions].map(([channel, { offset, epoch }]) =>
    `${encodeURIComponent(channel)}=${offset}:${epoch}`
  ).join(",");
}

/** The positions in a `Last-Event-ID`, leaving out what does not parse. */
export function parsePositions(id: string | null): Map<string, Position> {
  const positions = new Map<string, Position>();
  for (const part of (id ?? "").split(",")) {
    const match = /^([^=]+)=(\d+):([0-9a-zA-Z_-]{1,64})$/.exec(part);
    if (match === null) continue;
    try {
      positions.set(decodeURIComponent(match[1]!), { offset: Number(match[2]), epoch: match[3]! });
    } catch {
      // A malformed percent-encoding: no position for it.
    }
  }
  return positions;
}
