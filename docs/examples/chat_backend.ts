/**
 * @module
 * The chat backend of docs/chat.md: Boreas's publish hook (`--publish-hook-url`), which decides
 * what clients may say. It checks that each request comes from Boreas (the `Boreas-Signature`
 * header, made with the secret both share), then refuses messages that are not
 * `{"text": "..."}`, are too long, or contain a banned word, and lets the others through as sent.
 *
 * ```sh
 * BOREAS_WEBHOOK_SECRET=change-me deno run --allow-net --allow-env=BOREAS_WEBHOOK_SECRET \
 *   docs/examples/chat_backend.ts --port 8003
 * ```
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";

/** Words no message may contain. */
const BANNED = /\b(darn|heck)\b/i;

/** The longest message, in characters. */
const MAX_TEXT = 500;

/** Whether `header` signs `body` with `secret`, within 5 minutes of now (docs/operations.md,
 * "Webhooks"). */
function isFromBoreas(secret: string, body: string, header: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match || Math.abs(Date.now() / 1000 - Number(match[1])) > 300) return false;
  const expected = createHmac("sha256", secret).update(`${match[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2]!, "hex"));
}

/** The answer to one publication: `{}` delivers it as sent, `{"error": ...}` refuses it. */
function decide({ user, payload }: { user: string | null; payload: unknown }): object {
  if (user === null) return { error: "sign in to talk" };
  const text = (payload as { text?: unknown } | null)?.text;
  if (typeof text !== "string") return { error: 'expected {"text": "..."}' };
  if (text.length > MAX_TEXT) return { error: `more than ${MAX_TEXT} characters` };
  if (BANNED.test(text)) return { error: "mind your language" };
  return {};
}

/** The hook's handler, for requests signed with `secret`. */
function chatHook(secret: string): (request: Request) => Promise<Response> {
  return async (request) => {
    // The signature covers the raw body: check it before parsing anything.
    const body = await request.text();
    if (!isFromBoreas(secret, body, request.headers.get("boreas-signature") ?? "")) {
      return Response.json({ error: "bad signature" }, { status: 401 });
    }
    return Response.json(decide(JSON.parse(body)));
  };
}

const { values } = parseArgs({ options: { port: { type: "string", default: "8003" } } });
const secret = Deno.env.get("BOREAS_WEBHOOK_SECRET");
if (secret === undefined) throw new Error("BOREAS_WEBHOOK_SECRET: expected the hook's secret");
Deno.serve({ hostname: "127.0.0.1", port: Number(values.port) }, chatHook(secret));
