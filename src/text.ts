/**
 * @module
 * Small text measures shared by the protocol checks and the logs. Pure.
 */

// A UTF-16 code unit encodes to at most 3 UTF-8 bytes.
const MAX_UTF8_BYTES_PER_UNIT = 3;
const UTF8 = new TextEncoder();

/** The most bytes `text` can take in UTF-8, without encoding it. */
export function maxUtf8Length(text: string): number {
  return text.length * MAX_UTF8_BYTES_PER_UNIT;
}

/** The UTF-8 length of `text` when it is more than `max` bytes, or `null` when it fits. Texts
 * short enough to fit whatever they hold are not encoded at all. */
export function utf8LengthOver(text: string, max: number): number | null {
  if (maxUtf8Length(text) <= max) return null;
  const bytes = UTF8.encode(text).length;
  return bytes > max ? bytes : null;
}

/** The message of an error, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `text` parsed as a JSON object, or null for anything else (not JSON, or another value). */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : null;
}
