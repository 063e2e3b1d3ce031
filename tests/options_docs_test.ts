/** Every option is documented: the flags `--help` prints are exactly those of the README's
 * options table, with the environment variable each one reads. */

import assert from "node:assert/strict";
import { helpText } from "../src/config.ts";
import { envName, OPTIONS, specFlag } from "../src/config_options.ts";

/** The README's options table: each row's first flag and its environment variable. */
async function readmeOptions(): Promise<Map<string, string>> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf("\n## Options\n");
  assert.notEqual(start, -1, "README.md has no ## Options section");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const match = /^\| `(--[a-z-]+)[^|]*\| `(BOREAS_[A-Z_]+)`/.exec(line);
    if (match !== null) rows.set(match[1]!, match[2]!);
  }
  return rows;
}

Deno.test("the README's options table lists every option --help prints, with its variable", async () => {
  const documented = await readmeOptions();
  const help = helpText();
  for (const spec of OPTIONS) {
    const flag = `--${specFlag(spec)}`;
    assert.ok(help.includes(flag), `--help lacks ${flag}`);
    assert.equal(documented.get(flag), envName(spec.key), `README options table: ${flag}`);
  }
  const known = new Set(OPTIONS.map((spec) => `--${specFlag(spec)}`));
  const extra = [...documented.keys()].filter((flag) => !known.has(flag) && flag !== "--config");
  assert.deepEqual(extra, [], "README rows for options that do not exist");
});
