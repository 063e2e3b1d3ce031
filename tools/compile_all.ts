/**
 * @module
 * `deno task compile:all`: builds the `boreas` binary for every release target into `dist/`,
 * with the version in each file name, and writes `dist/SHA256SUMS`. `deno compile` downloads a
 * runtime per target, so this runs where that download is possible (GitHub Actions).
 */

import denoJson from "../deno.json" with { type: "json" };

/** Every target a release ships, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The permissions the binary is compiled with: what the server needs, nothing more. Network
 * (listen, `--tokens-url`), reading files named by options, writing `--token-store`, and only
 * the `BOREAS_*` environment variables. */
export const SERVER_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=BOREAS_*",
  // Deno still marks Deno.serve's reusePort (--reuse-port) unstable.
  "--unstable-net",
] as const;

/** What every build passes to `deno compile` besides permissions: embed only the npm packages
 * main.ts imports, not the test-only ones deno.json also pins (playwright-core, fast-check). */
export const COMPILE_FLAGS: readonly string[] = ["--exclude-unused-npm"];

/** The file name of the binary for `target`, e.g. `boreas-0.1.0-x86_64-unknown-linux-gnu`. */
export function binaryName(version: string, target: string): string {
  return `boreas-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** The `deno compile` arguments that build `target` into `outDir`. */
export function compileArgs(version: string, target: string, outDir: string): string[] {
  return [
    "compile",
    ...COMPILE_FLAGS,
    ...SERVER_PERMISSIONS,
    "--target",
    target,
    "--output",
    `${outDir}/${binaryName(version, target)}`,
    "main.ts",
  ];
}

/** One `SHA256SUMS` line: the hex digest, two spaces, the file name. */
export async function checksumLine(
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex}  ${name}`;
}

async function main(): Promise<number> {
  const outDir = "dist";
  await Deno.mkdir(outDir, { recursive: true });
  const lines: string[] = [];
  for (const target of TARGETS) {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(denoJson.version, target, outDir),
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) return code;
    const name = binaryName(denoJson.version, target);
    lines.push(await checksumLine(name, await Deno.readFile(`${outDir}/${name}`)));
  }
  await Deno.writeTextFile(`${outDir}/SHA256SUMS`, lines.join("\n") + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
