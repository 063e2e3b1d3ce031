/**
 * @module
 * What makes a channel name valid, shared by the HTTP API and the WebSocket protocol so that
 * both accept exactly the same names. Knows nothing of sockets or requests.
 */

import { utf8LengthOver } from "./text.ts";

/** The longest channel name, in UTF-8 bytes. */
export const MAX_CHANNEL_NAME_BYTES = 255;

// C0 controls, DEL and C1 controls: matching them is the point.
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns what is wrong with `name` as a channel name, or `null` when it is valid: any
 * non-empty string of at most 255 UTF-8 bytes without control characters (or lone
 * surrogates, which have no UTF-8 form), except `.` and `..`. */
export function channelNameProblem(name: string): string | null {
  if (name.length === 0) return "expected a non-empty channel name";
  // URLs drop "." and ".." path segments, even percent-encoded, so the API could never name
  // such a channel.
  if (name === "." || name === "..") return `expected a channel name other than "${name}"`;
  const bytes = utf8LengthOver(name, MAX_CHANNEL_NAME_BYTES);
  if (bytes !== null) {
    return `expected a channel name of at most ${MAX_CHANNEL_NAME_BYTES} UTF-8 bytes, got ${bytes}`;
  }
  if (CONTROL_CHARACTER.test(name)) return "expected a channel name without control characters";
  if (!name.isWellFormed()) return "expected a channel name without lone surrogates";
  return null;
}

/** Starts the hub's name of every channel that belongs to a protocol adapter (a Pusher app's):
 * a control character, which no native channel name may hold, so no native client, API call or
 * webhook can name one, and no adapter's channel can be a native one. */
export const ADAPTER_CHANNEL_MARK = "\u001f";

/** Whether `name` is an adapter's channel in the hub. Its broadcasts' payloads are whole
 * frames of the adapter's wire format, sent as they are. */
export function isAdapterChannel(name: string): boolean {
  return name.charCodeAt(0) === 0x1f;
}
