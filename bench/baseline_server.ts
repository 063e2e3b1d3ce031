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
 * With `--redis-url redis://HOST:PORT` it is the least a cluster node can do (the cluster
 * floor of `cluster_floor.ts`): a node subscribes to `baseline:{channel}` while it has members
 * there, sends a broadcast to its own members at once and `PUBLISH`es it, marked with the
 * node's id, answering `{"ok": true}` once Redis did (it cannot count other nodes' members); a
 * message from Redis goes to this node's members unless it came from this node (Redis sends a
 * publisher's message back to it when it is subscribed). No order between nodes, nothing
 * kept.
 *
 * Run: `deno run --allow-net bench/baseline_server.ts [--ping-interval SECONDS]
 * [--redis-url URL]`.
 */

import { parseArgs } from "node:util";
import { BaselineRedis } from "./baseline_redis.ts";

const HOSTNAME = "127.0.0.1";
const BROADCAST_PATH = /^\/broadcast\/([^/]+)\/?$/;

/** The sockets of each channel; `onFirst` and `onLast` hear of a channel's first member
 * joining and its last one leaving. */
class Rooms {
  readonly #members = new Map<string, Set<WebSocket>>();
  onFirst: (channel: string) => void = () => {};
  onLast: (channel: string) => void = () => {};

  /** Adds `socket` to each of `channels`; records them in `joined`. */
  join(socket: WebSocket, channels: readonly string[], joined: Set<string>): void {
    for (const channel of channels) {
      let members = this.#members.get(channel);
      if (members === undefined) {
        this.#members.set(channel, members = new Set());
        this.onFirst(channel);
      }
      members.add(socket);
      joined.add(channel);
    }
  }

  /** Takes `socket` out of each of `channels` and out of `joined`. */
  leave(socket: WebSocket, channels: Iterable<string>, joined: Set<string>): void {
    for (const channel of channels) {
      const members = this.#members.get(channel);
      members?.delete(socket);
      if (members?.size === 0) {
        this.#members.delete(channel);
        this.onLast(channel);
      }
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
async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { "ping-interval": { type: "string" }, "redis-url": { type: "string" } },
  });
  const idleTimeout = Number(values["ping-interval"] ?? "30");
  const rooms = new Rooms();
  const publish = values["redis-url"] === undefined
    ? undefined
    : await shareThrough(values["redis-url"], rooms);

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
    const frame = renderFrame(channel, payload);
    const recipients = rooms.send(channel, frame);
    if (publish !== undefined) await publish(channel, frame);
    const answer = publish === undefined ? `{"recipients": ${recipients}}` : '{"ok": true}';
    return new Response(answer, {
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

const PUBSUB_PREFIX = "baseline:";

/** Subscribes to the channels `rooms` has members in on the Redis at `url`, and sends what
 * other nodes publish there to them; resolves to the function that publishes a frame. */
async function shareThrough(
  url: string,
  rooms: Rooms,
): Promise<(channel: string, frame: string) => Promise<void>> {
  const nodeId = crypto.randomUUID();
  const redis = await BaselineRedis.connect(url, (pubsubChannel, message) => {
    const space = message.indexOf(" ");
    if (message.slice(0, space) === nodeId) return;
    rooms.send(pubsubChannel.slice(PUBSUB_PREFIX.length), message.slice(space + 1));
  });
  rooms.onFirst = (channel) => redis.subscription("SUBSCRIBE", PUBSUB_PREFIX + channel);
  rooms.onLast = (channel) => redis.subscription("UNSUBSCRIBE", PUBSUB_PREFIX + channel);
  return (channel, frame) => redis.publish(PUBSUB_PREFIX + channel, `${nodeId} ${frame}`);
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

if (import.meta.main) await main(Deno.args);
