/**
 * @module
 * Blocked users: what a block is, when it is over, and parsing `PUT /users/{user}/block`'s body
 * into one. Pure: knows nothing of where blocks are kept, of HTTP status codes or connections.
 */

import { parseJsonObject } from "./text.ts";

/** A user's block: while it lasts, no token naming the user authenticates. */
export interface Block {
  /** When it ends, in Unix seconds; null for never (until it is lifted). */
  readonly expiresAt: number | null;
}

/** Whether `block` has ended at `nowSeconds`. */
export function isBlockOver(block: Block, nowSeconds: number = Date.now() / 1000): boolean {
  return block.expiresAt !== null && block.expiresAt <= nowSeconds;
}

/** `block` as the JSON text the token store and Redis keep: `{"expires_at": N | null}`. */
export function encodeBlock(block: Block): string {
  return JSON.stringify({ "expires_at": block.expiresAt });
}

/** The block `encodeBlock` wrote, or null for text that is not one. */
export function decodeBlock(text: string): Block | null {
  const value = parseJsonObject(text);
  if (value === null) return null;
  const { expires_at: expiresAt } = value;
  if (!(expiresAt === null || typeof expiresAt === "number")) return null;
  return { expiresAt };
}

/** A parsed `PUT /users/{user}/block` body: how long the block lasts (null: until lifted), or
 * what is wrong with it (naming the field). */
export type BlockRequest = { ok: true; ttl: number | null } | { ok: false; error: string };

/** Checks a `PUT /users/{user}/block` body: none (undefined), or an object with an optional
 * `ttl` (whole seconds above 0) and nothing else. */
export function parseBlockRequest(body: unknown): BlockRequest {
  if (body === undefined) return { ok: true, ttl: null };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: "body: expected a JSON object" };
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => key !== "ttl");
  if (unknown !== undefined) {
    return { ok: false, error: `${unknown}: unknown field (expected ttl)` };
  }
  const { ttl = null } = fields;
  if (ttl !== null && !(typeof ttl === "number" && Number.isSafeInteger(ttl) && ttl > 0)) {
    return { ok: false, error: "ttl: expected a whole number of seconds above 0" };
  }
  return { ok: true, ttl: ttl as number | null };
}
