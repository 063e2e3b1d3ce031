/**
 * @module
 * The `Boreas-Signature` header of every request Boreas makes to the backend (webhook batches,
 * publish hook calls): `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so that a
 * receiver can check who sent it and refuse replays. Pure.
 */

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** The header's name. */
export const SIGNATURE_HEADER = "boreas-signature";

/** The header value for `body`, signed with `secret` at `nowSeconds`. */
export function signBody(secret: string, body: string, nowSeconds: number): string {
  const t = Math.floor(nowSeconds);
  return `t=${t},v1=${hmac(secret, `${t}.${body}`)}`;
}

/** Whether `header` is a valid signature of `body` made within `toleranceSeconds` of now. */
export function verifyBody(
  secret: string,
  { body, header, nowSeconds = Date.now() / 1000, toleranceSeconds = 300 }: {
    body: string;
    header: string;
    nowSeconds?: number;
    toleranceSeconds?: number;
  },
): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (match === null) return false;
  const t = Number(match[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, `${t}.${body}`), "hex");
  return timingSafeEqual(expected, Buffer.from(match[2]!, "hex"));
}

function hmac(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}
