/**
 * @module
 * Reads a JSON request body within a size limit: 415 for another content type, 413 past the
 * limit (read no further than that), 400 for a body that is not UTF-8 JSON. A route whose body
 * is optional treats an empty body as no body, whatever its headers say: curl's `-X POST`
 * sends no length, `curl -d ''` a form type, and `fetch(url, {body: ""})` `text/plain`.
 */

import { HttpError } from "./response.ts";

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Options of `readJsonBody`. */
export interface ReadJsonBodyOptions {
  /** When true, an empty body (no body, `Content-Length: 0`, or a stream that ends at once)
   * reads as `undefined` under any content type. Default false: an empty body is a 400. */
  readonly isOptional?: boolean;
}

/** Reads `request`'s body as JSON of at most `maxBytes` bytes. Throws `HttpError`. */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  options: ReadJsonBodyOptions = {},
): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  const isJson = type.split(";", 1)[0]!.trim().toLowerCase() === "application/json";
  const declared = request.headers.get("content-length");
  const isDeclaredEmpty = request.body === null || declared?.trim() === "0";
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
  if (Number(declared ?? "0") > maxBytes) {
    await request.body?.cancel();
    throw tooLarge(maxBytes);
  }
  // With a declared length within the limit, the HTTP layer reads no further than it, so one
  // read is safe, and much cheaper than streaming; chunked bodies are counted as they come.
  const bytes = declared === null
    ? await readLimited(request, maxBytes)
    : await readDeclared(request, maxBytes);
  if (options.isOptional && bytes.length === 0) return undefined;
  if (!isJson) throw wrongType(type);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpError(400, "body: expected UTF-8 text");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "body: expected JSON");
  }
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
