// deno-lint-ignore-file no-console
/**
 * @module
 * The baseline Boreas is measured against: the least a Deno broadcast server can do. One
 * `Deno.serve` upgrades every request to a WebSocket and keeps, for each channel, the set of
 * sockets that joined it; another answers `POST /broadcast/{channel}/` by sending one string
 * to every socket of that channel in a loop. It speaks just enough of Boreas's protocol to be
 * driven the same way: `{"channels": {"join": [...], "leave": [...]}}` joins and leaves,
 * `{"publish": {"channel": C, "payload": P}}` sends P's frame to every other socket of C (the
 * chat part's client publications), and a message that carries `ref` is answered
 * `{"ref": N, "ok": true}`; it checks nothing, and prints the same endpoint lines and
 * `Running...`. No tokens, grants, limits or metrics.
 *
 * Run: `deno run --allow-net bench/baseline_server.ts [--ping-interval SECONDS]`.
 */

import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
const BROADCAST_PATH = /^\/broadcast\/([^/]+)\/?$/;

/** The sockets of each channel. */
class Rooms {
  readonly #members = new Map<string, Set<WebSocket>>();

  /** Adds `socket` to each of `channels`; records them in `joined`. */
  join(socket: WebSocket, channels: readonly string[], joined: Set<string>): void {
    for (const channel of channels) {
      let members = this.#members.get(channel);
      if (members === undefined) this.#members.set(channel, members = new Set());
      members.add(socket);
      joined.add(channel);
    }
  }

  /** Takes `socket` out of each of `channels` and out of `joined`. */
  leave(socket: WebSocket, channels: Iterable<string>, joined: Set<string>): void {
    for (const channel of channels) {
      const members = this.#members.get(channel);
      members?.delete(socket);
      if (members?.size === 0) this.#members.delete(channel);
      joined.delete(channel);
    }
  }

  /** Sends `frame` to every socket of `channel` but `except`; returns how many it went to. */
  send(channel: string, frame: string, except?: WebSocket): number {
    let recipients = 0;
    for (const socket of this.#members.get(channel) ?? []) {
      if (socket === except) continue;
      socket.send(frame);
      recipients++;
    }
    return recipients;
  }
}

/** Starts both listeners and prints where they listen. SIGTERM or SIGINT ends the process. */
function main(args: string[]): void {
  const { values } = parseArgs({ args, options: { "ping-interval": { type: "string" } } });
  const idleTimeout = Number(values["ping-interval"] ?? "30");
  const rooms = new Rooms();

  const ws = Deno.serve({ hostname: HOSTNAME, port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
    const joined = new Set<string>();
    socket.onclose = () => rooms.leave(socket, [...joined], joined);
    socket.onmessage = (event) => {
      const message = parseMessage(event.data);
      if (message === undefined) return;
      obey(message, { socket, rooms, joined });
      if (message.ref !== undefined) {
        socket.send(`{"ref": ${JSON.stringify(message.ref)}, "ok": true}`);
      }
    };
    return response;
  });

  const api = Deno.serve({ hostname: HOSTNAME, port: 0, onListen: () => {} }, async (request) => {
    const match = BROADCAST_PATH.exec(new URL(request.url).pathname);
    if (request.method !== "POST" || match === null) {
      return new Response('{"errors": ["not found"]}', { status: 404 });
    }
    const channel = decodeURIComponent(match[1]!);
    const { payload } = await request.json();
    const recipients = rooms.send(channel, renderFrame(channel, payload));
    return new Response(`{"recipients": ${recipients}}`, {
      headers: { "content-type": "application/json" },
    });
  });

  console.log(`API endpoint configured to listen on ${HOSTNAME}:${api.addr.port}`);
  console.log(`WebSocket endpoint configured to listen on ${HOSTNAME}:${ws.addr.port}`);
  console.log("Running...");
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => Deno.exit(0));
  }
}

/** Does what a client message asks, trusting its shape: join and leave, or publish. */
function obey(
  message: Record<string, unknown>,
  { socket, rooms, joined }: { socket: WebSocket; rooms: Rooms; joined: Set<string> },
): void {
  const { channels, publish } = message as {
    channels?: { join: string[]; leave: string[] };
    publish?: { channel: string; payload: unknown };
  };
  if (channels !== undefined) {
    rooms.join(socket, channels.join, joined);
    rooms.leave(socket, channels.leave, joined);
  }
  if (publish !== undefined) {
    rooms.send(publish.channel, renderFrame(publish.channel, publish.payload), socket);
  }
}

function renderFrame(channel: string, payload: unknown): string {
  return `{"message": ${JSON.stringify(payload)}, "channel": ${JSON.stringify(channel)}}`;
}

/** A client message's JSON object; undefined when it is not JSON text of an object. */
function parseMessage(data: unknown): Record<string, unknown> | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const message = JSON.parse(data);
    return typeof message === "object" && message !== null ? message : undefined;
  } catch {
    return undefined;
  }
}

/** The `ref` a client message carries, as JSON text; undefined when it carries none or is not
 * JSON text. */
export function messageRef(data: unknown): string | undefined {
  const ref = parseMessage(data)?.ref;
  return ref === undefined ? undefined : JSON.stringify(ref);
}

if (import.meta.main) main(Deno.args);
