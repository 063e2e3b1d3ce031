/**
 * @module
 * The Server-Sent Events transport (`GET /events` on the WebSocket listener), for clients that
 * cannot use WebSockets. A token (`Authorization: Bearer T` or `?access_token=T`) and channels
 * (`?channel=a&channel=b`) are given up front; each broadcast is a `data:` line holding the
 * WebSocket frame's JSON; with history on, each event's `id:` encodes every channel's position,
 * and `Last-Event-ID` resumes as a join with `since` does; a channel with join and leave events
 * first lists its members in an `event: members`. A stream counts as a connection
 * everywhere a WebSocket does, until its response is over, and is closed with a final
 * `event: close`.
 */

import { checkAccessToken } from "../access.ts";
import { SseBody } from "./sse_body.ts";
import { channelNameProblem } from "../channel.ts";
import { errorResponse, HttpError } from "../api/response.ts";
import { grantsChannel, type TokenGrant } from "../grants.ts";
import type { Position, Resume } from "../backend/history.ts";
import { renderMembers } from "../protocol.ts";
import type { SessionContext } from "../session/context.ts";
import { type JoinOutcome, Session, type Wire, type WriteResult } from "../session/session.ts";

/** How often a comment line keeps an idle stream open through proxies, in milliseconds. */
export const KEEPALIVE_MS = 15_000;

/** What an SSE stream shares with the server. */
export interface SseContext extends SessionContext {
  readonly keepAliveMs?: number;
}

/** Tracks the open streams, with the WebSockets, for `--max-connections` and shutdown: a
 * stream from its start until its response is over (sent to its end, or cancelled because the
 * client went away), which for a client that stopped reading is long after its session closed,
 * as a WebSocket being closed counts until its peer answers. */
export interface StreamTracker {
  add(stream: SseTransport): void;
  remove(stream: SseTransport): void;
}

const UTF8 = new TextEncoder();

/** Answers `GET /events`: an error before anything streams, or the stream. */
export async function openSse(
  request: Request,
  { context, tracker }: { context: SseContext; tracker: StreamTracker },
): Promise<Response> {
  const url = new URL(request.url);
  const token = bearerOf(request) ?? url.searchParams.get("access_token");
  if (token === null || token === "") {
    return errorResponse(
      new HttpError(401, "access_token: expected Authorization: Bearer T or ?access_token=T"),
    );
  }
  const channels = url.searchParams.getAll("channel");
  const problem = channelsProblem(channels, context.limits.maxChannelsPerConnection);
  if (problem !== null) return errorResponse(new HttpError(400, problem));
  const checked = await checkAccessToken(token, context);
  if (!checked.ok) {
    return errorResponse(new HttpError(checked.isUnavailable ? 503 : 401, checked.error));
  }
  const denied = channels.findIndex((channel) => !grantsChannel(checked.grant.channels, channel));
  if (denied !== -1) {
    return errorResponse(new HttpError(403, `channel[${denied}]: not permitted by this token`));
  }
  const stream = new SseTransport(context, { onOver: () => tracker.remove(stream) });
  tracker.add(stream);
  const failure = await stream.start(token, checked.grant, {
    channels,
    since: parsePositions(request.headers.get("last-event-id")),
  });
  if (failure !== null) {
    // Never to be sent: over now.
    await stream.body.cancel();
    return errorResponse(new HttpError(503, failure));
  }
  return new Response(stream.body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}

/** One SSE client: its response body as a session's wire. */
export class SseTransport implements Wire {
  readonly body: ReadableStream<Uint8Array>;
  readonly session: Session;
  readonly #context: SseContext;
  readonly #positions = new Map<string, Position>();
  readonly #body: SseBody;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #isClosed = false;

  /** `onOver` is called once the response is over: sent to its end, or cancelled. */
  constructor(context: SseContext, { onOver = () => {} }: { onOver?: () => void } = {}) {
    this.#context = context;
    this.session = new Session(this, context);
    this.#body = new SseBody({
      onCancel: () => this.#finish({ code: 1001, reason: "client went away" }),
      onOver,
    });
    this.body = this.#body.stream;
  }

  /** Opens the session, authenticated, in `channels`; writes the recovery events, the
   * positions, the replay and then the live frames held meanwhile. Returns why it could not
   * (the history could not be read; the stream is then undone), or null. */
  async start(
    token: string,
    grant: TokenGrant,
    { channels, since }: { channels: string[]; since: ReadonlyMap<string, Position> },
  ): Promise<string | null> {
    const session = this.session;
    if (!session.open({ hasToken: true })) return "server shutting down";
    const refused = await session.authenticate(token, grant);
    if (refused !== undefined) {
      this.#finish({ code: 1011, reason: "not authenticated" });
      return refused;
    }
    let failure: string | null = null;
    await session.join({ join: channels, leave: [], since }, (outcome) => {
      failure = this.#answer(outcome, since);
    });
    if (failure !== null) return failure;
    // Closed while the join was answered (a block, a revocation): nothing to keep alive.
    if (this.#isClosed) return "channel: the stream was closed while it opened";
    this.#keepAlive = setInterval(
      () => this.#write(": keepalive\n\n"),
      this.#context.keepAliveMs ?? KEEPALIVE_MS,
    );
    return null;
  }

  /** Writes what the join says before its replay: recovery events and every channel's
   * position; or undoes the stream and returns why. */
  #answer(outcome: JoinOutcome, since: ReadonlyMap<string, Position>): string | null {
    if ("error" in outcome) {
      this.#finish({ code: 1011, reason: "history unavailable" });
      return outcome.error.replace(/^channels\.join: /, "channel: ");
    }
    if (this.#context.history === null) {
      // Positions from a server with history: say that they cannot be resumed here.
      for (const channel of since.keys()) this.#writeRecovery({ channel, recovered: false });
    } else {
      this.#notePositions(outcome.resume, since);
      // Every channel's position before anything is sent, so that a stream dropped before its
      // first message still resumes from here (browsers keep an id that comes without data).
      if (this.#positions.size > 0) this.#write(`id: ${encodePositions(this.#positions)}\n\n`);
    }
    // Who is there, before the replay and the events that change it.
    for (const [channel, list] of outcome.members) {
      this.#write(`event: members\ndata: ${renderMembers(channel, list)}\n\n`);
    }
    return null;
  }

  #notePositions(resume: Resume, since: ReadonlyMap<string, Position>): void {
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
  }

  write(frame: string, channel?: string, offset?: number): WriteResult {
    if (this.#isClosed) return "closed";
    const queued = this.#body.queuedBytes;
    if (queued > this.#context.limits.maxBufferedBytes) return { overflowBytes: queued };
    let id = "";
    if (channel !== undefined && offset !== undefined) {
      const known = this.#positions.get(channel);
      this.#positions.set(channel, { offset, epoch: known?.epoch ?? "" });
      id = `id: ${encodePositions(this.#positions)}\n`;
    }
    this.#write(`${id}data: ${frame}\n\n`);
    return "sent";
  }

  #writeRecovery(recovery: Record<string, unknown>): void {
    this.#write(`event: recovery\ndata: ${JSON.stringify(recovery)}\n\n`);
  }

  /** Sends the final `event: close` with `code` and `reason`, and ends the stream. */
  close(code: number, reason: string): void {
    if (this.#isClosed) return;
    this.#write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    this.#finish({ code, reason });
    this.#body.end();
  }

  #write(text: string): void {
    if (!this.#isClosed) this.#body.push(UTF8.encode(text));
  }

  #finish({ code, reason }: { code: number; reason: string }): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#keepAlive);
    this.session.closed(code, reason);
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
