// deno-lint-ignore-file no-console
/**
 * @module
 * The baseline Boreas is measured against: the least a Deno broadcast server can do. One
 * `Deno.serve` upgrades every request to a WebSocket and keeps the open sockets in a `Set`;
 * another answers `POST /broadcast/{channel}/` by sending one string to every socket in a
 * loop. It speaks just enough of Boreas's protocol to be driven the same way: it answers a
 * client message that carries `ref` with `{"ref": N, "ok": true}` (and checks nothing), and
 * prints the same endpoint lines and `Running...`. No tokens, channels, limits or metrics.
 *
 * Run: `deno run --allow-net bench/baseline_server.ts [--ping-interval SECONDS]`.
 */

import { parseArgs } from "node:util";

const HOSTNAME = "127.0.0.1";
const BROADCAST_PATH = /^\/broadcast\/([^/]+)\/?$/;

/** Starts both listeners and prints where they listen. SIGTERM or SIGINT ends the process. */
function main(args: string[]): void {
  const { values } = parseArgs({ args, options: { "ping-interval": { type: "string" } } });
  const idleTimeout = Number(values["ping-interval"] ?? "30");
  const sockets = new Set<WebSocket>();

  const ws = Deno.serve({ hostname: HOSTNAME, port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (event) => {
      const ref = messageRef(event.data);
      if (ref !== undefined) socket.send(`{"ref": ${ref}, "ok": true}`);
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
    const frame = `{"message": ${JSON.stringify(payload)}, "channel": ${JSON.stringify(channel)}}`;
    let recipients = 0;
    for (const socket of sockets) {
      socket.send(frame);
      recipients++;
    }
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

/** The `ref` a client message carries, as JSON text; undefined when it carries none or is not
 * JSON text. */
export function messageRef(data: unknown): string | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const ref = JSON.parse(data)?.ref;
    return ref === undefined ? undefined : JSON.stringify(ref);
  } catch {
    return undefined;
  }
}

if (import.meta.main) main(Deno.args);
