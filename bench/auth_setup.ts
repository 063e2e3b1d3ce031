/**
 * @module
 * What the auth part of the benchmark (`auth.ts`) needs around the servers: opaque tokens
 * minted with grants through `POST /token/`, JWTs signed with `jose` (HS256 with a random
 * secret, ES256 with a fresh key pair whose public key is written to a temporary directory),
 * and a webhook receiver that answers 204 and checks every batch's signature. The directory is
 * made, written and removed by `mktemp`, `bash` and `rm` (the bench task has `--allow-run` but
 * no `--allow-write`).
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";

/** Seconds every benchmark token or JWT stays valid: far beyond any run. */
export const TOKEN_TTL_SECONDS = 3_600;

const MINT_CONNECTIONS = 20;
const JSON_HEADERS = { "content-type": "application/json" };

/** Mints `count` tokens on the server at `apiUrl`, each granting `channels` for
 * `TOKEN_TTL_SECONDS` to user `user-N`; resolves to them in order. Throws on any answer but
 * 200. */
export async function mintTokens(
  apiUrl: string,
  { count, channels }: { count: number; channels: readonly string[] },
): Promise<string[]> {
  const tokens: string[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const body = JSON.stringify({ channels, ttl: TOKEN_TTL_SECONDS, user: `user-${i}` });
      const response = await fetch(`${apiUrl}/token/`, {
        method: "POST",
        headers: JSON_HEADERS,
        body,
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`POST /token/: ${response.status} ${text}`);
      tokens[i] = JSON.parse(text).token;
    }
  };
  await Promise.all(Array.from({ length: MINT_CONNECTIONS }, worker));
  return tokens;
}

/** Which key a JWT is signed with. */
export type JwtKind = "hs256" | "es256";

/** An HS256 secret and an ES256 key pair, the public key in a PEM file of a temporary
 * directory. Disposing it removes the directory. */
export class JwtKeys implements AsyncDisposable {
  /** The `--jwt-secret`. */
  readonly secret: string;
  /** The `--jwt-public-key` file. */
  readonly publicKeyPath: string;
  readonly #dir: string;
  readonly #privateKey: CryptoKey;

  private constructor(dir: string, secret: string, privateKey: CryptoKey) {
    this.#dir = dir;
    this.secret = secret;
    this.publicKeyPath = `${dir}/es256.pem`;
    this.#privateKey = privateKey;
  }

  /** Makes the keys and writes the public one. */
  static async create(): Promise<JwtKeys> {
    const dir = (await run(["mktemp", "-d", "-t", "boreas-bench-jwt.XXXXXX"])).trim();
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const keys = new JwtKeys(dir, secret, privateKey);
    const pem = await exportSPKI(publicKey);
    await run(["bash", "-c", 'cat > "$1"', "bench", keys.publicKeyPath], pem);
    return keys;
  }

  /** The server flags that make Boreas accept JWTs of `kind`. */
  args(kind: JwtKind): string[] {
    return kind === "hs256"
      ? ["--jwt-secret", this.secret]
      : ["--jwt-public-key", this.publicKeyPath];
  }

  /** `count` JWTs of `kind`, each with `channels`, `sub` `user-N` and an `exp`
   * `TOKEN_TTL_SECONDS` from now. */
  sign(
    kind: JwtKind,
    { count, channels }: { count: number; channels: readonly string[] },
  ): Promise<string[]> {
    const key = kind === "hs256" ? new TextEncoder().encode(this.secret) : this.#privateKey;
    const alg = kind === "hs256" ? "HS256" : "ES256";
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        new SignJWT({ channels: [...channels] })
          .setProtectedHeader({ alg })
          .setSubject(`user-${i}`)
          .setIssuedAt()
          .setExpirationTime(`${TOKEN_TTL_SECONDS}s`)
          .sign(key)),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await run(["rm", "-rf", "--", this.#dir]);
  }
}

/** A loopback webhook receiver: answers every POST 204 and counts the batches, their events
 * and the batches whose `Boreas-Signature` is not valid for `secret`. Disposing it stops it. */
export class WebhookReceiver implements AsyncDisposable {
  /** `http://127.0.0.1:PORT/hooks`, the `--webhook-url`. */
  readonly url: string;
  readonly secret: string;
  batches = 0;
  events = 0;
  badSignatures = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.secret = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#receive(request),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}/hooks`;
  }

  async #receive(request: Request): Promise<Response> {
    const body = await request.text();
    this.batches++;
    this.events += JSON.parse(body).events.length;
    if (!this.#isSigned(body, request.headers.get("boreas-signature") ?? "")) {
      this.badSignatures++;
    }
    return new Response(null, { status: 204 });
  }

  #isSigned(body: string, header: string): boolean {
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    if (match === null) return false;
    const expected = createHmac("sha256", this.secret).update(`${match[1]}.${body}`).digest();
    return timingSafeEqual(expected, Buffer.from(match[2]!, "hex"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** Runs `argv` with `input` on its stdin; resolves to its stdout, rejects when it fails. */
async function run([command, ...args]: readonly string[], input = ""): Promise<string> {
  const child = new Deno.Command(command!, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`${command}: ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout);
}
