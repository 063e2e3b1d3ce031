/**
 * @module
 * An HTTP request kept in flight on purpose: sent over a bare `Deno.TcpConn` with
 * `Expect: 100-continue` and its body held back. The server's `100 Continue` shows the handler
 * has started reading the body, so the request is in flight without waiting on a timer.
 */

import { withTimeout } from "./helpers.ts";

const UTF8 = new TextEncoder();

/** A request's answer, read to its end. */
export interface HeldAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A request whose handler is running and waiting for the body. Dispose it to close the
 * connection. */
export class HeldRequest implements AsyncDisposable {
  readonly #conn: Deno.TcpConn;
  readonly #body: Uint8Array;
  readonly #decoder = new TextDecoder();
  #received = "";

  private constructor(conn: Deno.TcpConn, body: Uint8Array) {
    this.#conn = conn;
    this.#body = body;
  }

  /** Sends `method url` with `Content-Type: application/json` and the headers of `body`, then
   * waits for `100 Continue`. The body is sent by `finish()`. */
  static async start(method: string, url: string, body: string): Promise<HeldRequest> {
    const { hostname, port, pathname, host } = new URL(url);
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const bytes = UTF8.encode(body);
    const request = new HeldRequest(conn, bytes);
    try {
      await request.#write(UTF8.encode(
        `${method} ${pathname} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${bytes.length}\r\nExpect: 100-continue\r\n\r\n`,
      ));
      const interim = await withTimeout(request.#readHead(), `100 Continue from ${url}`);
      if (!interim.startsWith("HTTP/1.1 100 ")) {
        throw new Error(`expected 100 Continue from ${url}, got ${JSON.stringify(interim)}`);
      }
      return request;
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** Sends the body and reads the final answer (its body by `Content-Length`). */
  async finish(what = "the answer to the held request"): Promise<HeldAnswer> {
    await this.#write(this.#body);
    return await withTimeout(this.#readAnswer(), what);
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
    return Promise.resolve();
  }

  async #readAnswer(): Promise<HeldAnswer> {
    const [statusLine, ...lines] = (await this.#readHead()).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    while (UTF8.encode(this.#received).length < length) await this.#fill();
    return { status: Number(statusLine?.split(" ")[1]), headers, body: this.#received };
  }

  async #readHead(): Promise<string> {
    while (!this.#received.includes("\r\n\r\n")) await this.#fill();
    const end = this.#received.indexOf("\r\n\r\n");
    const head = this.#received.slice(0, end);
    this.#received = this.#received.slice(end + 4);
    return head;
  }

  async #fill(): Promise<void> {
    const buffer = new Uint8Array(16_384);
    const n = await this.#conn.read(buffer);
    if (n === null) throw new Error(`the server closed the connection; got ${this.#received}`);
    this.#received += this.#decoder.decode(buffer.subarray(0, n), { stream: true });
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }
}
