/**
 * @module
 * Reads a JSON request body within a size limit and a time limit: 415 for another content type,
 * 413 past the size (read no further than that), 408 when it has not all come in time (a body
 * that trickles in must not hold a request open for ever), 400 for a body that is not UTF-8
 * JSON. A route whose body
 * is optional treats an empty body as no body, whatever its headers say: curl's `-X POST`
 * sends no length, `curl -d ''` a form type, and `fetch(url, {body: ""})` `text/plain`.
 */

import { HttpError } from "./response.ts";

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const LENIENT_UTF8 = new TextDecoder("utf-8");
/** Microtask turns a read may take and still count as not waiting for the network. */
const SETTLING_TICKS = 8;

/** Options of `readJsonBody`. */
export interface ReadJsonBodyOptions {
  /** When true, an empty body (no body, `Content-Length: 0`, or a stream that ends at once)
   * reads as `undefined` under any content type. Default false: an empty body is a 400. */
  readonly isOptional?: boolean;
  /** How long the whole body may take to arrive, in milliseconds. Default: no limit. */
  readonly timeoutMs?: number;
}

/** Reads `request`'s body as JSON of at most `maxBytes` bytes. Throws `HttpError`. */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  options: ReadJsonBodyOptions = {},
): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  const isJson = type === "application/json" ||
    type.split(";", 1)[0]!.trim().toLowerCase() === "application/json";
  const declared = request.headers.get("content-length");
  // `request.body` is looked at only without a declared length: reading it turns a body the
  // server already holds whole into a stream, which costs more to read than the rest of a
  // broadcast. (A Deno server hands a POST or PUT with a declared length a body.)
  const isDeclaredEmpty = declared === null ? request.body === null : declared.trim() === "0";
  if (options.isOptional && isDeclaredEmpty) {
    await request.body?.cancel();
    return undefined;
  }
  // Without a declared length, only reading tells an empty body from a full one; reading is
  // bounded by `maxBytes` either way.
  if (!isJson && !(options.isOptional && declared === null)) {
    await request.body?.cancel();
    throw wrongType(type);
  }
  const bytes = await readBytes(request, maxBytes, { timeoutMs: options.timeoutMs, declared });
  if (options.isOptional && bytes.length === 0) return undefined;
  if (!isJson) throw wrongType(type);
  const text = utf8Text(bytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "body: expected JSON");
  }
}

/** Reads `request`'s body as UTF-8 text of at most `maxBytes` bytes, whatever its type (a
 * signed request's signature covers the body as sent); empty when it has none. Throws
 * `HttpError` 413, 408 or 400 as `readJsonBody` does. */
export async function readTextBody(
  request: Request,
  maxBytes: number,
  options: Pick<ReadJsonBodyOptions, "timeoutMs"> = {},
): Promise<string> {
  const bytes = await readBytes(request, maxBytes, {
    timeoutMs: options.timeoutMs,
    declared: request.headers.get("content-length"),
  });
  return utf8Text(bytes);
}

/** `bytes` decoded as UTF-8 (a leading BOM dropped), exactly as a fatal `TextDecoder` decodes
 * them; throws 400 where it throws. */
export function utf8Text(bytes: Uint8Array): string {
  // The lenient decoder is a faster call, and puts U+FFFD only where the bytes hold it or are
  // not UTF-8: the fatal one tells these apart.
  const text = LENIENT_UTF8.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new HttpError(400, "body: expected UTF-8 text");
  }
}

/** The whole body, at most `maxBytes` of it (413 past them) within `timeoutMs` (408 after);
 * `declared` is its `Content-Length`. Not an async function: each layer of them costs every
 * request a promise and a turn. */
function readBytes(
  request: Request,
  maxBytes: number,
  { timeoutMs, declared }: { timeoutMs: number | undefined; declared: string | null },
): Promise<Uint8Array> {
  if (Number(declared ?? "0") > maxBytes) return refuseTooLarge(request, maxBytes);
  // With a declared length within the limit, the HTTP layer reads no further than it, so one
  // read is safe, and much cheaper than streaming; chunked bodies are counted as they come.
  const reading = declared === null
    ? readLimited(request, maxBytes)
    : readDeclared(request, maxBytes);
  return timeoutMs === undefined ? reading : withinTime(reading, timeoutMs);
}

async function refuseTooLarge(request: Request, maxBytes: number): Promise<never> {
  await request.body?.cancel();
  throw tooLarge(maxBytes);
}

async function readDeclared(request: Request, maxBytes: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await request.bytes();
  } catch (error) {
    throw cutShort(error);
  }
  // A Request built in-process can carry a body longer than its header says.
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  return bytes;
}

async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      // Breaking out of for-await cancels the stream, so the rest is never read.
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw cutShort(error);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** `reading`, or a 408 once `timeoutMs` has passed. A read given up fails later, when the
 * connection closes; that failure is nobody's to report. */
async function withinTime<T>(reading: Promise<T>, timeoutMs: number): Promise<T> {
  // A body the server already holds whole is read within a few microtasks (three in Deno
  // 2.9), and then a timer (set and cleared) would cost more than the read itself.
  let isSettled = false;
  const settle = () => isSettled = true;
  reading.then(settle, settle);
  for (let tick = 0; tick < SETTLING_TICKS && !isSettled; tick++) await undefined;
  if (isSettled) return await reading;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HttpError(408, `body: not received within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  reading.catch(() => {});
  try {
    return await Promise.race([reading, late]);
  } finally {
    clearTimeout(timer);
  }
}

function wrongType(type: string): HttpError {
  return new HttpError(415, `content-type: expected application/json, got ${JSON.stringify(type)}`);
}

/** The client closed or broke the connection before sending the whole body. */
function cutShort(cause: unknown): HttpError {
  return new HttpError(400, "body: the request body was cut short", { cause });
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `body: expected at most ${maxBytes} bytes`);
}
