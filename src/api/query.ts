/**
 * @module
 * Reading a request's query parameters, with a 400 naming the parameter when one is malformed.
 */

import { HttpError } from "./response.ts";

/** The query parameter `name` as a whole number in `min..max`, undefined when absent; throws 400
 * naming it otherwise. */
export function wholeNumber(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(
      400,
      `${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
