/**
 * @module
 * The least a Deno server can do to share broadcasts through Redis, for the baseline's cluster
 * mode (`baseline_server.ts --redis-url`): two plain `Deno.connect` sockets speaking just
 * enough RESP, one for `PUBLISH` (replies matched in order), one for `SUBSCRIBE` and
 * `UNSUBSCRIBE` and the messages they bring. No reconnects, no timeouts, no auth: a benchmark's
 * floor, not a client.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;

/** A RESP value as this reader returns it: simple strings and bulk strings as text, integers
 * as numbers, a null bulk string or array as `null`, errors as `Error`, arrays as arrays. */
type Reply = string | number | null | Error | Reply[];

/** Encodes a command as a RESP array of bulk strings. */
function encodeCommand(args: readonly string[]): Uint8Array {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return encoder.encode(text);
}

/** Reads RESP replies from a stream of chunks: `push` a chunk, then `next` until undefined. */
class ReplyReader {
  #buffer = new Uint8Array(0);
  #offset = 0;

  push(chunk: Uint8Array): void {
    const rest = this.#buffer.subarray(this.#offset);
    const joined = new Uint8Array(rest.length + chunk.length);
    joined.set(rest);
    joined.set(chunk, rest.length);
    this.#buffer = joined;
    this.#offset = 0;
  }

  /** The next whole reply, or undefined until more bytes arrive. */
  next(): Reply | undefined {
    const start = this.#offset;
    const reply = this.#read();
    if (reply === undefined) this.#offset = start;
    return reply;
  }

  #read(): Reply | undefined {
    const line = this.#line();
    if (line === undefined) return undefined;
    const body = line.slice(1);
    switch (line[0]) {
      case "+":
        return body;
      case "-":
        return new Error(body);
      case ":":
        return Number(body);
      case "$": {
        const length = Number(body);
        if (length < 0) return null;
        if (this.#buffer.length < this.#offset + length + 2) return undefined;
        const text = decoder.decode(this.#buffer.subarray(this.#offset, this.#offset + length));
        this.#offset += length + 2;
        return text;
      }
      case "*": {
        const count = Number(body);
        if (count < 0) return null;
        const items: Reply[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#read();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return items;
      }
      default:
        throw new Error(`RESP: unexpected ${JSON.stringify(line)}`);
    }
  }

  #line(): string | undefined {
    const end = this.#buffer.indexOf(CR, this.#offset);
    if (end < 0 || end + 1 >= this.#buffer.length) return undefined;
    const line = decoder.decode(this.#buffer.subarray(this.#offset, end));
    this.#offset = end + 2;
    return line;
  }
}

/** Reads `connection` until it closes, handing each reply to `onReply`. */
async function readReplies(connection: Deno.Conn, onReply: (reply: Reply) => void) {
  const reader = new ReplyReader();
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    const read = await connection.read(chunk).catch(() => null);
    if (read === null) return;
    reader.push(chunk.subarray(0, read));
    for (let reply = reader.next(); reply !== undefined; reply = reader.next()) onReply(reply);
  }
}

/** Writes to one connection in order; what arrives while a write is under way goes out
 * together in the next one. */
class Writer {
  readonly #connection: Deno.Conn;
  #queued: Uint8Array[] = [];
  #isWriting = false;

  constructor(connection: Deno.Conn) {
    this.#connection = connection;
  }

  write(bytes: Uint8Array): void {
    this.#queued.push(bytes);
    if (!this.#isWriting) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#isWriting = true;
    try {
      while (this.#queued.length > 0) {
        const batch = this.#queued.length === 1 ? this.#queued[0]! : concat(this.#queued);
        this.#queued = [];
        for (let written = 0; written < batch.length;) {
          written += await this.#connection.write(batch.subarray(written));
        }
      }
    } catch {
      // The connection closed: the process is ending.
    } finally {
      this.#isWriting = false;
    }
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** Two connections to one Redis: publishing, and subscribing. Disposing it closes both. */
export class BaselineRedis implements Disposable {
  readonly #commands: Deno.Conn;
  readonly #subscriber: Deno.Conn;
  readonly #pending: Array<(reply: Reply) => void> = [];
  readonly #commandWriter: Writer;
  readonly #subscriberWriter: Writer;

  private constructor(
    commands: Deno.Conn,
    subscriber: Deno.Conn,
    onMessage: (channel: string, message: string) => void,
  ) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#commandWriter = new Writer(commands);
    this.#subscriberWriter = new Writer(subscriber);
    void readReplies(commands, (reply) => this.#pending.shift()?.(reply));
    void readReplies(subscriber, (reply) => {
      if (Array.isArray(reply) && reply[0] === "message") {
        onMessage(reply[1] as string, reply[2] as string);
      }
    });
  }

  /** Connects both sockets to `url` (`redis://HOST:PORT`); `onMessage` gets every message of
   * the channels subscribed to. */
  static async connect(
    url: string,
    onMessage: (channel: string, message: string) => void,
  ): Promise<BaselineRedis> {
    const { hostname, port } = new URL(url);
    const address = { hostname, port: Number(port || "6379") };
    const commands = await Deno.connect(address);
    const subscriber = await Deno.connect(address);
    return new BaselineRedis(commands, subscriber, onMessage);
  }

  /** `PUBLISH channel message`; resolves once Redis answered. */
  publish(channel: string, message: string): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#pending.push((reply) => reply instanceof Error ? reject(reply) : resolve());
    this.#commandWriter.write(encodeCommand(["PUBLISH", channel, message]));
    return promise;
  }

  /** `SUBSCRIBE channel` or `UNSUBSCRIBE channel`, without waiting for the answer. */
  subscription(command: "SUBSCRIBE" | "UNSUBSCRIBE", channel: string): void {
    this.#subscriberWriter.write(encodeCommand([command, channel]));
  }

  [Symbol.dispose](): void {
    this.#commands.close();
    this.#subscriber.close();
  }
}
