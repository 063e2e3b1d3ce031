/**
 * @module
 * The API key check (`--api-key`): `Authorization: Bearer KEY`, compared in constant time
 * against every configured key, so that keys can be rotated by configuring old and new.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./response.ts";

/** Checks requests' bearer keys against a fixed list of keys. */
export class ApiKeyCheck {
  readonly #digests: readonly Uint8Array[];

  /** `keys` may be empty: then every request passes. */
  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  /** Throws 401 with `WWW-Authenticate: Bearer` unless `request` carries a configured key. */
  verify(request: Request): void {
    if (this.#digests.length === 0) return;
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      throw unauthorized("authorization: expected an API key as Bearer KEY", header === "");
    }
    // Comparing fixed-length digests keeps the time independent of the key's content and
    // length; every key is compared so the time does not say which one matched.
    const presented = digest(match[1]!);
    let isValid = false;
    for (const key of this.#digests) isValid = timingSafeEqual(presented, key) || isValid;
    if (!isValid) throw unauthorized("authorization: unknown API key", false);
  }
}

function digest(key: string): Uint8Array {
  return createHash("sha256").update(key).digest();
}

function unauthorized(message: string, isMissing: boolean): HttpError {
  const challenge = isMissing ? "Bearer" : 'Bearer error="invalid_token"';
  return new HttpError(401, message, { headers: { "www-authenticate": challenge } });
}
