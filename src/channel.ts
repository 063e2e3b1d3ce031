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
