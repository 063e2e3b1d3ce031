/**
 * @module
 * Authentication tokens: minting new ones, and the short fingerprint that names a token in
 * logs (the tokens that may authenticate are a backend's: backend/tokens.ts). Knows nothing of connections; the hub tracks
 * which tokens are in use.
 */

import { createHash } from "node:crypto";

/** How many random characters a minted token has before its `-<unix seconds>` suffix. */
export const TOKEN_RANDOM_LENGTH = 128;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// The largest multiple of the alphabet's size that fits in a byte: bytes at or above it are
// redrawn, so that `byte % 62` is uniform (no modulo bias).
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** Returns a new token: 128 characters from `[A-Za-z0-9]` drawn from `crypto.getRandomValues`
 * without modulo bias, then `-` and the Unix time in seconds at `now` (milliseconds). */
export function mintToken(now: number = Date.now()): string {
  const chars: string[] = [];
  const bytes = new Uint8Array(TOKEN_RANDOM_LENGTH * 2);
  while (chars.length < TOKEN_RANDOM_LENGTH) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      if (byte >= UNBIASED_LIMIT) continue;
      chars.push(ALPHABET[byte % ALPHABET.length]!);
      if (chars.length === TOKEN_RANDOM_LENGTH) break;
    }
  }
  return `${chars.join("")}-${Math.floor(now / 1000)}`;
}

/** Names `token` in logs without revealing it: the first 12 hex digits of its SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}
