/**
 * @module
 * A loopback TCP proxy in front of a test Redis that can wedge the pub/sub connections going
 * through it: they stay open, but what Redis sends them is dropped, as when a failover leaves
 * a subscription that no longer delivers.
 */

/** A proxy listening on a free loopback port. */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** From now on, drops what the server sends to every connection that has subscribed so
   * far; returns how many there were. Connections opened later pass through untouched. */
  wedgeSubscribers(): number;
}

interface Pair {
  readonly client: Deno.Conn;
  readonly server: Deno.Conn;
  hasSubscribed: boolean;
  isWedged: boolean;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export function startProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Pair>();
  const pumps: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        client.close();
        continue;
      }
      const pair: Pair = { client, server, hasSubscribed: false, isWedged: false };
      pairs.add(pair);
      pumps.push(pump(pair, "up"), pump(pair, "down"));
    }
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
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const pair of pairs) closeBoth(pair);
      await Promise.all(pumps);
    },
  };
}

/** Copies one direction of `pair` until either side closes. */
async function pump(pair: Pair, direction: "up" | "down"): Promise<void> {
  const [from, to] = direction === "up" ? [pair.client, pair.server] : [pair.server, pair.client];
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const read = await from.read(buffer);
      if (read === null) break;
      const chunk = buffer.subarray(0, read);
      if (direction === "up" && /subscribe/i.test(decoder.decode(chunk))) pair.hasSubscribed = true;
      if (direction === "down" && pair.isWedged) continue;
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
