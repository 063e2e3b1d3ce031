/**
 * @module
 * A loopback TCP proxy for tests. In front of a test Redis it can wedge the pub/sub connections
 * going through it: they stay open, but what Redis sends them is dropped, as when a failover
 * leaves a subscription that no longer delivers. In front of servers it can cut every
 * connection at once, as a network failure would, and send each new connection to the next of
 * several targets. It can also hold back what servers answer, to show that a client sent its
 * commands without waiting for an answer between them.
 */

/** A proxy listening on a free loopback port. */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** From now on, drops what the server sends to every connection that has subscribed so
   * far; returns how many there were. Connections opened later pass through untouched. */
  wedgeSubscribers(): number;
  /** Closes every connection going through it at once; returns how many there were. */
  cutAll(): number;
  /** Keeps new connections waiting, unanswered, until the returned function is called. */
  hold(): () => void;
  /** From now on, keeps back what the server sends to every connection (what clients send
   * still goes through) until the returned function is called; then passes it on, in order. */
  holdReplies(): () => void;
}

interface Pair {
  readonly client: Deno.Conn;
  readonly server: Deno.Conn;
  hasSubscribed: boolean;
  isWedged: boolean;
}

/** Starts a proxy to `127.0.0.1:targetPort`, or to the port `targetPort()` names for each new
 * connection. */
export function startProxy(targetPort: number | (() => number)): TcpProxy {
  const target = typeof targetPort === "number" ? () => targetPort : targetPort;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Pair>();
  const pumps: Promise<void>[] = [];
  let held: Promise<void> = Promise.resolve();
  const replies = { held: Promise.resolve() };
  let releaseReplies = () => {};
  const connect = async (client: Deno.Conn) => {
    await held;
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: target() });
    } catch {
      client.close();
      return;
    }
    const pair: Pair = { client, server, hasSubscribed: false, isWedged: false };
    pairs.add(pair);
    pumps.push(pump(pair, "up", replies), pump(pair, "down", replies));
  };
  const accepting = (async () => {
    for await (const client of listener) pumps.push(connect(client));
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    wedgeSubscribers() {
      let wedged = 0;
      for (const pair of pairs) {
        if (!pair.hasSubscribed) continue;
        pair.isWedged = true;
        wedged++;
      }
      return wedged;
    },
    hold() {
      const { promise, resolve } = Promise.withResolvers<void>();
      held = promise;
      return resolve;
    },
    holdReplies() {
      const { promise, resolve } = Promise.withResolvers<void>();
      replies.held = promise;
      releaseReplies = () => {
        replies.held = Promise.resolve();
        resolve();
      };
      return releaseReplies;
    },
    cutAll() {
      const open = [...pairs];
      for (const pair of open) closeBoth(pair);
      pairs.clear();
      return open.length;
    },
    async [Symbol.asyncDispose]() {
      releaseReplies();
      listener.close();
      await accepting.catch(() => {});
      for (const pair of pairs) closeBoth(pair);
      await Promise.all(pumps);
    },
  };
}

/** A SUBSCRIBE (or PSUBSCRIBE, SSUBSCRIBE) command as RESP sends it: the word as a bulk string of
 * its own, not inside another argument (a Lua script's comment that says "subscribers"). */
const SUBSCRIBE = /\$\d+\r\n[ps]?subscribe\r\n/i;

/** Copies one direction of `pair` until either side closes; what goes down waits for
 * `replies.held` first. */
async function pump(
  pair: Pair,
  direction: "up" | "down",
  replies: { readonly held: Promise<void> },
): Promise<void> {
  const [from, to] = direction === "up" ? [pair.client, pair.server] : [pair.server, pair.client];
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const read = await from.read(buffer);
      if (read === null) break;
      const chunk = buffer.subarray(0, read);
      if (direction === "up" && SUBSCRIBE.test(decoder.decode(chunk))) pair.hasSubscribed = true;
      if (direction === "down" && pair.isWedged) continue;
      if (direction === "down") await replies.held;
      let written = 0;
      while (written < read) written += await to.write(chunk.subarray(written));
    }
  } catch {
    // One side went away: the other is closed below.
  }
  closeBoth(pair);
}

function closeBoth(pair: Pair): void {
  for (const conn of [pair.client, pair.server]) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}
