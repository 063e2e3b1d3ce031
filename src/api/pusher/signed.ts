/**
 * @module
 * The first step of every Pusher REST route: the app of the path, the body as sent, and the
 * request's signature checked against the app's secret. Boreas's own `--api-key` does not apply
 * to these routes: the signature is their authentication.
 */

import { checkRequestSignature } from "../../auth/pusher_signatures.ts";
import type { PusherApp } from "../../config_pusher_apps.ts";
import type { PusherApps } from "../../session/pusher_apps.ts";
import { readTextBody } from "../body.ts";
import { HttpError } from "../response.ts";
import type { RouteContext } from "../router.ts";

/** A request whose signature holds: its app, query and body. */
export interface SignedRequest {
  readonly app: PusherApp;
  readonly query: URLSearchParams;
  readonly body: string;
}

/** What checking a request needs. */
export interface SigningContext {
  readonly apps: PusherApps;
  /** Largest request body, in bytes (`--max-body-bytes`). */
  readonly maxBodyBytes: number;
  /** How long a body may take to arrive, in seconds (`--body-timeout`). */
  readonly bodyTimeout: number;
  /** The clock the timestamps are checked against, in milliseconds. */
  readonly now: () => number;
}

/** Reads and checks the request of `route`: 404 for an unknown app id, 401 for a bad
 * signature, key or timestamp (the message names which), 413 past `maxBodyBytes`. */
export async function readSignedRequest(
  { request, params }: RouteContext,
  { apps, maxBodyBytes, bodyTimeout, now }: SigningContext,
): Promise<SignedRequest> {
  const app = apps.byId(params.id ?? "");
  if (app === undefined) {
    await request.body?.cancel();
    throw new HttpError(404, `app ${JSON.stringify(params.id)}: no such app`);
  }
  const body = await readTextBody(request, maxBodyBytes, { timeoutMs: bodyTimeout * 1000 });
  const url = new URL(request.url);
  const check = checkRequestSignature(app, {
    method: request.method,
    path: url.pathname,
    query: url.searchParams,
    body,
  }, { nowMs: now() });
  if (!check.ok) throw new HttpError(401, check.error);
  return { app, query: url.searchParams, body };
}
