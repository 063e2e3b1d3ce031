/**
 * @module
 * The exact text of one member of a JSON object, as it was written: so that a value can be
 * passed on without being parsed and encoded again (`12.50` stays `12.50`, escapes stay as
 * sent). Pure.
 */

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

/** The text of the value of `key` in the JSON object `text`, or undefined when the object has
 * no such member; with the key repeated, the last one's, as `JSON.parse` keeps. `text` must
 * already be known to be a valid JSON object (`JSON.parse` gave an object): this only finds
 * where things are. */
export function memberText(text: string, key: string): string | undefined {
  let found: string | undefined;
  let at = skipSpace(text, 0) + 1; // past the "{"
  for (;;) {
    at = skipSpace(text, at);
    if (text[at] === "}") return found;
    const keyEnd = stringEnd(text, at);
    const name = JSON.parse(text.slice(at, keyEnd)) as string;
    const valueStart = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the ":"
    const valueEnd = valueEndAt(text, valueStart);
    if (name === key) found = text.slice(valueStart, valueEnd);
    at = skipSpace(text, valueEnd);
    if (text[at] === "}") return found;
    at++; // past the ","
  }
}

function skipSpace(text: string, at: number): number {
  while (WHITESPACE.has(text[at]!)) at++;
  return at;
}

/** Where the string starting at `at` (its opening quote) ends, just past its closing quote. */
function stringEnd(text: string, at: number): number {
  let i = at + 1;
  while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** Where the value starting at `at` ends. */
function valueEndAt(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first === "{" || first === "[") {
    let depth = 0;
    let i = at;
    do {
      const c = text[i];
      if (c === '"') {
        i = stringEnd(text, i);
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") depth--;
      i++;
    } while (depth > 0);
    return i;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = at;
  while (i < text.length && !WHITESPACE.has(text[i]!) && text[i] !== "," && text[i] !== "}") i++;
  return i;
}
