/**
 * @module
 * Helpers shared by the integration tests (api, ws, quickstart): reading JSON answers with their
 * content type checked, broadcasting, authenticating and joining a client, and proving that a
 * client received nothing without waiting on a timer.
 */

import assert from "node:assert/strict";
import { type CloseInfo, type TestClient, type TestServer, withTimeout } from "./helpers.ts";

/** What `POST /token/` mints: 128 alphanumerics, `-`, Unix seconds. */
export const TOKEN_PATTERN = /^[A-Za-z0-9]{128}-\d+$/;

/** The recipient dump of a server with no connections at all. */
export const EMPTY_RECIPIENT_DUMP =
  "RECEIVER POOL REPORT\nanonymous: 0\nauthenticated:\n\t---\nchannels:\n \t---\n";

/** The media type of `response`, without parameters, lower-cased. */
export function mediaType(response: Response): string {
  return (response.headers.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase();
}

/** Asserts `response` has `status` and `Content-Type: application/json`; returns its body
 * as text and parsed. */
export async function readJson(
  response: Response,
  status: number,
): Promise<{ text: string; value: unknown }> {
  const text = await response.text();
  assert.equal(response.status, status, `status of an answer with body ${text}`);
  assert.equal(mediaType(response), "application/json");
  return { text, value: JSON.parse(text) };
}

/** Asserts `response` is an error answer `{"errors": ["..."]}` with `status`; returns the
 * messages. */
export async function readErrors(response: Response, status: number): Promise<string[]> {
  const { text, value } = await readJson(response, status);
  assert.ok(text.startsWith('{"errors": ['), `error body ${text}`);
  assert.deepEqual(Object.keys(value as object), ["errors"]);
  const { errors } = value as { errors: unknown[] };
  assert.ok(Array.isArray(errors) && errors.length > 0, `error body ${text}`);
  for (const error of errors) assert.equal(typeof error, "string");
  return errors as string[];
}

/** Asserts `response` is `{"tokens": [...]}` spelled with Python-style spacing; returns the
 * tokens sorted, since the spec gives them no order. */
export async function readTokenList(response: Response): Promise<string[]> {
  const { text, value } = await readJson(response, 200);
  const { tokens } = value as { tokens: string[] };
  assert.equal(text, `{"tokens": [${tokens.map((t) => JSON.stringify(t)).join(", ")}]}`);
  return [...tokens].sort();
}

/** `POST /broadcast/<path>/` with a JSON content type; `body` is sent as it is when a string,
 * else as JSON. `path` is the channel as it goes into the URL (percent-encoded). */
export function broadcast(
  server: TestServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<Response> {
  return server.api(`/broadcast/${path}/`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Broadcasts `payload` to `channel` (the raw name, encoded here) and returns `recipients`. */
export async function publish(
  server: TestServer,
  channel: string,
  payload: unknown,
  dryrun = false,
): Promise<number> {
  const response = await broadcast(server, encodeURIComponent(channel), { payload, dryrun });
  const { value } = await readJson(response, 200);
  return (value as { recipients: number }).recipients;
}

/** How many subscribers `channel` has, by a dry-run broadcast. */
export function countRecipients(server: TestServer, channel: string): Promise<number> {
  return publish(server, channel, "count", true);
}

/** Authenticates `client` with `token` and joins `channels`, each acknowledged through a `ref`,
 * so the hub has applied both when this resolves. */
export async function authenticateAndJoin(
  client: TestClient,
  token: string,
  channels: readonly string[] = [],
): Promise<void> {
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  if (channels.length === 0) return;
  assert.deepEqual(await client.request({ channels: { join: channels, leave: [] } }, "join"), {
    ref: "join",
    ok: true,
  });
}

/** Asserts `client` received nothing so far: sends a message with a fresh `ref` and asserts
 * that the next message received is the reply to it. The server answers frames in order, so
 * anything sent to the client before the reply would come first. */
export async function assertNothingReceived(client: TestClient): Promise<void> {
  const ref = crypto.randomUUID();
  const reply = await client.request({ channels: { join: [], leave: [] } }, ref);
  assert.equal(
    (reply as { ref?: unknown }).ref,
    ref,
    `expected only the probe's reply, got ${JSON.stringify(reply)}`,
  );
}

/** The next text frame `client` receives, unparsed. Call it before the frame is sent. */
export function nextRawFrame(client: TestClient): Promise<string> {
  const received = new Promise<string>((resolve) => {
    client.socket.addEventListener("message", (event) => resolve(event.data as string), {
      once: true,
    });
  });
  return withTimeout(received, "a raw text frame");
}

/** The close `client` receives from the server; rejects after the usual wait. */
export function closeOf(client: TestClient): Promise<CloseInfo> {
  return withTimeout(client.closed, "the server to close the connection");
}

/** Closes `client` from its side and waits for the close handshake to finish. */
export async function closeClient(client: TestClient): Promise<void> {
  client.socket.close();
  await withTimeout(client.closed, "the client's close handshake");
}

/** The answer to a plain upgrade request of `server`'s native endpoint, as a browser's would
 * be, read as an HTTP response: what a refused upgrade is answered. */
export function upgradeRequest(server: TestServer): Promise<Response> {
  return fetch(server.wsUrl.replace(/^ws:/, "http:"), {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": btoa("0123456789abcdef"),
      "sec-websocket-version": "13",
    },
  });
}
