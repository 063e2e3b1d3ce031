/**
 * @module
 * A WebSocket client over a bare `Deno.TcpConn`, for peers a browser-like `WebSocket` cannot
 * play: one that never reads (a slow consumer) or never answers a close. It does the opening
 * handshake and then does nothing on its own; frames are read and written only when asked.
 */

import { createHash } from "node:crypto";
import { withTimeout } from "./helpers.ts";

const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const UTF8 = new TextEncoder();
const HEAD_END = UTF8.encode("\r\n\r\n");

/** WebSocket opcodes a test may send or meet. */
export const OPCODE = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame as received: its opcode and unmasked payload (fragments are not joined). */
export interface RawFrame {
  readonly opcode: number;
  readonly payload: Uint8Array;
}

/** An upgraded connection that does nothing until told. Dispose it to close the TCP
 * connection without a close handshake. */
export class RawWebSocket implements AsyncDisposable {
  /** The connection itself, to read from, write to, or leave alone. */
  readonly conn: Deno.TcpConn;
  /** Bytes received after the handshake's response head and not yet read as a frame. */
  #pending: Uint8Array;
  #isClosed = false;

  private constructor(conn: Deno.TcpConn, pending: Uint8Array) {
    this.conn = conn;
    this.#pending = pending;
  }

  /** Connects to `url` (`ws://host:port/path`) and completes the opening handshake; rejects
   * unless the server answers 101 with the right `Sec-WebSocket-Accept`. `host` is the `Host`
   * header to send instead of the URL's. */
  static async connect(url: string, options: { host?: string } = {}): Promise<RawWebSocket> {
    const { hostname, port, pathname, search, host: urlHost } = new URL(url);
    const { host = urlHost } = options;
    const conn = await withTimeout(
      Deno.connect({ hostname: hostname.replace(/^\[|\]$/g, ""), port: Number(port) }),
      `a TCP connection to ${url}`,
    );
    const socket = new RawWebSocket(conn, new Uint8Array());
    try {
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      await socket.write(UTF8.encode(
        `GET ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ));
      const head = new TextDecoder().decode(
        await withTimeout(socket.#readHead(), `the handshake answer from ${url}`),
      );
      const accept = createHash("sha1").update(key + HANDSHAKE_GUID).digest("base64");
      const isAccepted = head.startsWith("HTTP/1.1 101 ") &&
        head.split("\r\n").some((line) =>
          /^sec-websocket-accept:/i.test(line) &&
          line.slice(line.indexOf(":") + 1).trim() === accept
        );
      if (!isAccepted) {
        throw new Error(`expected a 101 upgrade from ${url}, got ${JSON.stringify(head)}`);
      }
      return socket;
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** Writes every byte of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Sends one masked frame with `opcode`, as a client must; a string is sent as UTF-8. */
  async send(payload: string | Uint8Array, opcode: number = OPCODE.text): Promise<void> {
    const data = typeof payload === "string" ? UTF8.encode(payload) : payload;
    const length = data.length < 126
      ? [data.length]
      : data.length < 65_536
      ? [126, data.length >> 8, data.length & 0xff]
      : [127, 0, 0, 0, 0, ...[24, 16, 8, 0].map((shift) => (data.length >>> shift) & 0xff)];
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const head = [0x80 | opcode, 0x80 | length[0]!, ...length.slice(1), ...mask];
    await this.write(
      Uint8Array.from([...head, ...data.map((byte, i) => byte ^ mask[i % 4]!)]),
    );
  }

  /** Sends a close frame with `code` and `reason`. */
  sendClose(code: number, reason = ""): Promise<void> {
    const reasonBytes = UTF8.encode(reason);
    return this.send(Uint8Array.from([code >> 8, code & 0xff, ...reasonBytes]), OPCODE.close);
  }

  /** Reads the next frame; rejects after the default wait, naming `what`. */
  nextFrame(what = "a frame from the server"): Promise<RawFrame> {
    return withTimeout(this.#readFrame(), what);
  }

  /** Closes the TCP connection at once, if still open. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #readFrame(): Promise<RawFrame> {
    const [first, second] = await this.#take(2);
    let length = second! & 0x7f;
    if (length === 126) length = new DataView((await this.#take(2)).buffer).getUint16(0);
    else if (length === 127) {
      length = Number(new DataView((await this.#take(8)).buffer).getBigUint64(0));
    }
    const mask = second! & 0x80 ? await this.#take(4) : undefined;
    const payload = await this.#take(length);
    if (mask) payload.forEach((byte, i) => payload[i] = byte ^ mask[i % 4]!);
    return { opcode: first! & 0x0f, payload };
  }

  async #readHead(): Promise<Uint8Array> {
    while (true) {
      const end = indexOf(this.#pending, HEAD_END);
      if (end !== -1) {
        const head = this.#pending.slice(0, end);
        this.#pending = this.#pending.slice(end + HEAD_END.length);
        return head;
      }
      await this.#fill();
    }
  }

  /** The next `count` bytes, as a fresh array. */
  async #take(count: number): Promise<Uint8Array> {
    while (this.#pending.length < count) await this.#fill();
    const taken = this.#pending.slice(0, count);
    this.#pending = this.#pending.slice(count);
    return taken;
  }

  async #fill(): Promise<void> {
    const buffer = new Uint8Array(16_384);
    const n = await this.conn.read(buffer);
    if (n === null) throw new Error("the server closed the TCP connection");
    const joined = new Uint8Array(this.#pending.length + n);
    joined.set(this.#pending);
    joined.set(buffer.subarray(0, n), this.#pending.length);
    this.#pending = joined;
  }
}

/** The close code and reason in a close frame's payload. */
export function closeOf(frame: RawFrame): { code: number; reason: string } {
  if (frame.opcode !== OPCODE.close) {
    throw new Error(`expected a close frame, got opcode ${frame.opcode}`);
  }
  const view = new DataView(frame.payload.buffer, frame.payload.byteOffset);
  return {
    code: frame.payload.length >= 2 ? view.getUint16(0) : 1005,
    reason: new TextDecoder().decode(frame.payload.subarray(2)),
  };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A raw client the server has seen open: a `ref` request sent before authenticating was
 * answered. That also shows a spawned main.ts is past setting up its signal listeners. */
export async function openRawClient(wsUrl: string): Promise<RawWebSocket> {
  const raw = await RawWebSocket.connect(wsUrl);
  await raw.send(JSON.stringify({ channels: { join: ["news"], leave: [] }, ref: 1 }));
  const reply = new TextDecoder().decode((await raw.nextFrame("the reply to ref 1")).payload);
  if (reply !== '{"ref": 1, "error": "channels: authenticate first"}') {
    await raw[Symbol.asyncDispose]();
    throw new Error(`unexpected reply to ref 1: ${reply}`);
  }
  return raw;
}
