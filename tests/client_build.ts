/**
 * @module
 * Runs the `build:client` task's own command line (from deno.json), writing the browser module
 * to another path than `dist/boreas-client.js`, so tests can build it without touching `dist/`.
 */

import denoJson from "../deno.json" with { type: "json" };

/** Builds the client bundle into `output`; throws with deno's stderr when the build fails. */
export async function buildClientInto(output: string): Promise<void> {
  const args = denoJson.tasks["build:client"].split(" ").slice(1).map((arg) =>
    arg === "dist/boreas-client.js" ? output : arg
  );
  const built = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (built.code !== 0) {
    throw new Error(`deno task build:client failed: ${new TextDecoder().decode(built.stderr)}`);
  }
}
