/**
 * @module
 * The benchmark's tokens, served from the orchestrator over loopback HTTP as a JSON array:
 * Boreas loads them at startup (`--tokens-url`) and the load generator fetches the same list,
 * so no minting traffic grows Boreas's heap before the RSS readings, and both servers receive
 * the very same frames. Tokens have Boreas's own format: 128 characters from `[A-Za-z0-9]`, `-`
 * and the Unix time in seconds.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_LENGTH = 128;

/** A loopback HTTP server answering every GET with the same token list. Disposing it stops
 * it. */
export class TokenServer implements AsyncDisposable {
  /** `http://127.0.0.1:PORT/tokens`. */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
    this.url = `http://127.0.0.1:${server.addr.port}/tokens`;
  }

  /** Makes `count` random tokens and starts serving them. */
  static start(count: number): TokenServer {
    return TokenServer.serve(Array.from({ length: count }, randomToken));
  }

  /** Starts serving `tokens` (e.g. minted by a server, for the load generator to fetch). */
  static serve(tokens: readonly string[]): TokenServer {
    const body = JSON.stringify(tokens);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(body, { headers: { "content-type": "application/json" } }),
    );
    return new TokenServer(server);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

function randomToken(): string {
  // 62 of 256 byte values would bias `% 62`; the bias does not matter for a benchmark.
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_LENGTH));
  const chars = Array.from(bytes, (byte) => ALPHABET[byte % ALPHABET.length]);
  return `${chars.join("")}-${Math.floor(Date.now() / 1000)}`;
}
