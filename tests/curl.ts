/**
 * @module
 * The real curl binary, as the quick start and operators call the API: it sends what a person
 * would type, `Host` headers included (Deno's `fetch` always sends the URL's).
 */

import assert from "node:assert/strict";

/** Runs curl with `args`; its stdout and the HTTP status it saw. */
export async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "-w", "\n%{http_code}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}
