/**
 * @module
 * `deno task check:embedded`: fails when `deno compile` would embed an npm package that main.ts
 * does not import (a test-only one such as playwright-core or fast-check). It runs the release
 * build's own compile arguments far enough to print the "Embedded Files" tree: with
 * `DENORT_BIN` naming an existing executable (the running deno), `deno compile` needs no runtime
 * download; the file it writes is not a working Boreas and is deleted.
 */

import { COMPILE_FLAGS, SERVER_PERMISSIONS } from "./compile_all.ts";

/** The npm package names (`@redis/client`, `jose`) in an "Embedded Files" tree. */
export function embeddedPackages(tree: string): string[] {
  // deno-lint-ignore no-control-regex
  const plain = tree.replace(/\x1b\[[0-9;]*m/g, "");
  const start = plain.indexOf(".deno_compile_node_modules");
  if (start === -1) return [];
  const names: string[] = [];
  for (const line of plain.slice(start).split("\n").slice(2)) {
    // Package lines sit two levels under the registry: `│   ├── jose/6.2.18/* (217KB)`.
    const match = /^│ {3}[├└]── (@[^/\s]+\/[^/\s]+|[^@/\s][^/\s]*)\//.exec(line);
    if (match === null) break;
    names.push(match[1]!);
  }
  return names;
}

/** The npm package names `entry` imports, directly or through other packages. `deno info`'s
 * `npmPackages` is the whole snapshot, so the walk starts from the graph's `npm:` modules. */
async function importedPackages(entry: string): Promise<Set<string>> {
  const info = await run(["info", "--json", entry], {}, "stdout");
  const graph = JSON.parse(info) as {
    modules: Array<{ specifier: string }>;
    npmPackages?: Record<string, { name: string; dependencies?: string[] }>;
  };
  const packages = graph.npmPackages ?? {};
  const pending = graph.modules.flatMap(({ specifier }) => {
    const match = /^npm:\/((?:@[^/]+\/)?[^/@]+@[^/]+)/.exec(specifier);
    return match === null ? [] : [match[1]!];
  });
  const seen = new Set<string>();
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    pending.push(...(packages[id]?.dependencies ?? []));
  }
  return new Set([...seen].map((id) => packages[id]?.name ?? id.slice(0, id.lastIndexOf("@"))));
}

/** Runs deno with `args`; its stdout, or with `from` "both" its stdout and stderr (compile
 * prints its tree on stderr). */
async function run(
  args: string[],
  env: Record<string, string>,
  from: "stdout" | "both",
): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decoder = new TextDecoder();
  const text = decoder.decode(output.stdout) +
    (from === "both" ? decoder.decode(output.stderr) : "");
  if (output.code !== 0) throw new Error(`deno ${args[0]} failed (exit ${output.code}):\n${text}`);
  return text;
}

async function main(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "boreas-embedded-" });
  try {
    const tree = await run(
      ["compile", ...COMPILE_FLAGS, ...SERVER_PERMISSIONS, "--output", `${dir}/boreas`, "main.ts"],
      { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      "both",
    );
    const embedded = embeddedPackages(tree);
    const imported = await importedPackages("main.ts");
    const extra = embedded.filter((name) => !imported.has(name));
    // deno-lint-ignore no-console
    console.log(`deno compile embeds: ${embedded.join(", ") || "no npm package"}`);
    if (embedded.length === 0 || extra.length > 0) {
      // deno-lint-ignore no-console
      console.error(
        extra.length > 0
          ? `not imported by main.ts, yet embedded: ${extra.join(", ")}`
          : "no npm package found in the Embedded Files tree: has its format changed?",
      );
      return 1;
    }
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
