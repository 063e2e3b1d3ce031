/**
 * @module
 * What a token allows: the channels it may join and those it may publish to (exact names, or
 * prefixes ending in `*`), when it expires, and who holds it. Parsing `POST /token/`'s body into a grant, and matching
 * channels against it. Pure: knows nothing of HTTP status codes or connections.
 */

import { channelNameProblem } from "./channel.ts";
import { parseJsonObject } from "./text.ts";

/** What a token allows. */
export interface TokenGrant {
  /** The channel patterns it may join; null for every channel (a token minted without
   * `channels`), `[]` for none. */
  readonly channels: readonly string[] | null;
  /** When it stops authenticating, in Unix seconds; null for never. */
  readonly expiresAt: number | null;
  /** Who holds it, for presence and webhooks; null when nobody said. */
  readonly user: string | null;
  /** The channel patterns its connections may publish to; `[]` (the default) for none. */
  readonly publish: readonly string[];
}

/** The grant of a token minted with an empty `POST /token/`: every channel, forever. */
export const OPEN_GRANT: TokenGrant = Object.freeze({
  channels: null,
  expiresAt: null,
  user: null,
  publish: Object.freeze([]),
});

/** The longest `user`. */
export const MAX_USER_LENGTH = 128;

/** Whether `user` can name a user: a string of at most 128 characters with no lone surrogate
 * (which has no UTF-8 form, so Redis would store it as U+FFFD and merge distinct users). */
export function isUserName(user: unknown): user is string {
  return typeof user === "string" && user.length <= MAX_USER_LENGTH && user.isWellFormed();
}

/** Whether `patterns` let a connection join `channel`. */
export function grantsChannel(patterns: readonly string[] | null, channel: string): boolean {
  if (patterns === null) return true;
  for (const pattern of patterns) {
    if (pattern.endsWith("*") ? channel.startsWith(pattern.slice(0, -1)) : channel === pattern) {
      return true;
    }
  }
  return false;
}

/** Whether `grant` still authenticates at `nowSeconds`. */
export function isExpired(grant: TokenGrant, nowSeconds: number = Date.now() / 1000): boolean {
  return grant.expiresAt !== null && grant.expiresAt <= nowSeconds;
}

/** A parsed `POST /token/` body, or what is wrong with it (naming the field). */
export type GrantRequest =
  | {
    ok: true;
    channels: readonly string[] | null;
    ttl: number | null;
    user: string | null;
    publish: readonly string[];
  }
  | { ok: false; error: string };

const FIELDS = new Set(["channels", "ttl", "user", "publish"]);

/** Checks a `POST /token/` body: an object with optional `channels` and `publish` (patterns),
 * `ttl` (whole seconds above 0) and `user` (a string of at most 128 characters), and nothing
 * else. */
export function parseGrantRequest(body: unknown): GrantRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: "body: expected a JSON object" };
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) {
    return {
      ok: false,
      error: `${unknown}: unknown field (expected channels, publish, ttl or user)`,
    };
  }
  const { channels = null, ttl = null, user = null, publish = [] } = fields;
  if (channels !== null) {
    const problem = patternsProblem(channels, "channels");
    if (problem !== null) return { ok: false, error: problem };
  }
  const publishProblem = patternsProblem(publish, "publish");
  if (publishProblem !== null) return { ok: false, error: publishProblem };
  if (ttl !== null && !(typeof ttl === "number" && Number.isSafeInteger(ttl) && ttl > 0)) {
    return { ok: false, error: "ttl: expected a whole number of seconds above 0" };
  }
  if (user !== null && !isUserName(user)) {
    return {
      ok: false,
      error:
        `user: expected a string of at most ${MAX_USER_LENGTH} characters, without lone surrogates`,
    };
  }
  return {
    ok: true,
    channels: channels as string[] | null,
    ttl: ttl as number | null,
    user: user as string | null,
    publish: publish as string[],
  };
}

/** What is wrong with a list of patterns named `field`, naming the entry, or null. */
export function patternsProblem(patterns: unknown, field: string): string | null {
  if (!Array.isArray(patterns)) return `${field}: expected a list of patterns`;
  for (const [i, pattern] of patterns.entries()) {
    const problem = patternProblem(pattern);
    if (problem !== null) return `${field}[${i}]: ${problem}`;
  }
  return null;
}

/** What is wrong with `pattern`, or null: `*` alone, or a channel name with an optional `*`
 * at its end. */
export function patternProblem(pattern: unknown): string | null {
  if (typeof pattern !== "string") return "expected a string";
  if (pattern === "*") return null;
  const name = pattern.endsWith("*") ? pattern.slice(0, -1) : pattern;
  const problem = channelNameProblem(name);
  return problem === null ? null : `${problem} (in pattern ${JSON.stringify(pattern)})`;
}

/** `grant` as the JSON text the token store and Redis keep:
 * `{"channels": [...] | null, "expires_at": N | null, "user": "..." | null}`, and
 * `"publish": [...]` when it grants any (grants kept before publishing existed have none). */
export function encodeGrant(grant: TokenGrant): string {
  return JSON.stringify({
    channels: grant.channels,
    "expires_at": grant.expiresAt,
    user: grant.user,
    ...(grant.publish.length === 0 ? {} : { publish: grant.publish }),
  });
}

/** The grant `encodeGrant` wrote, or null for text that is not one. */
export function decodeGrant(text: string): TokenGrant | null {
  const value = parseJsonObject(text);
  if (value === null) return null;
  const { channels, expires_at: expiresAt, user, publish = [] } = value;
  if (!(channels === null || isStringList(channels))) return null;
  if (!(expiresAt === null || typeof expiresAt === "number")) return null;
  if (!(user === null || typeof user === "string")) return null;
  if (!isStringList(publish)) return null;
  return { channels: channels as string[] | null, expiresAt, user, publish };
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** Whether `grant` is the open grant of an empty `POST /token/`. */
export function isOpenGrant(grant: TokenGrant): boolean {
  return grant.channels === null && grant.expiresAt === null && grant.user === null &&
    grant.publish.length === 0;
}
