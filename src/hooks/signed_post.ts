/**
 * @module
 * One signed POST to the backend, the way every outgoing call (webhook batches, the publish
 * hook) makes it, and how its failures are told without the credentials of its URL.
 */

import { withoutCredentials } from "../address.ts";
import { errorMessage } from "../text.ts";
import { SIGNATURE_HEADER, signBody } from "./signature.ts";

/** The `user:password@` of any URL quoted in a message. */
const USERINFO = /\/\/[^/\s@]+@/g;

/** POSTs the JSON `body` to `url`, signed with `secret` at the time now; credentials in `url`
 * go as Basic auth. A redirect is not followed: its 3xx is the answer (a followed one would
 * let another URL decide, or receive the signed body). The caller reads or cancels the
 * response's body. */
export function postSigned(
  url: string,
  body: string,
  { secret, signal }: { secret: string; signal: AbortSignal },
): Promise<Response> {
  return postJson(url, body, { headers: signedHeaders(secret, body), signal });
}

/** The headers Boreas signs `body` with: `Boreas-Signature` at the time now. */
export function signedHeaders(secret: string, body: string): Record<string, string> {
  return { [SIGNATURE_HEADER]: signBody(secret, body, Date.now() / 1000) };
}

/** POSTs the JSON `body` to `url` with `Content-Type: application/json` and `headers` (a
 * signature); credentials in `url` go as Basic auth. The caller reads or cancels the
 * response's body. */
export function postJson(
  url: string,
  body: string,
  { headers, signal }: { headers: Readonly<Record<string, string>>; signal: AbortSignal },
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal,
    redirect: "manual",
  });
}

/** What `error`, thrown by a call to `url`, says, fit for a log line: fetch's errors may quote
 * the URL, credentials and all. */
export function failureOf(error: unknown, url: string): string {
  return errorMessage(error).replaceAll(url, withoutCredentials(url)).replace(USERINFO, "//");
}
