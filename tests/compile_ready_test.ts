import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import {
  binaryName,
  checksumLine,
  COMPILE_FLAGS,
  compileArgs,
  SERVER_PERMISSIONS,
  TARGETS,
} from "../tools/compile_all.ts";
import { embeddedPackages } from "../tools/check_embedded.ts";
import { endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";

// `deno compile` needs a runtime download this machine cannot make; these tests prove the rest:
// the flags are right, and main.ts runs from one self-contained file, as a compiled binary does.

Deno.test("compileArgs() builds every release target with the server's permissions", () => {
  assert.deepEqual([...TARGETS].sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
  ]);
  assert.deepEqual(compileArgs("1.2.3", "x86_64-pc-windows-msvc", "dist"), [
    "compile",
    "--exclude-unused-npm",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env=BOREAS_*",
    "--unstable-net",
    "--target",
    "x86_64-pc-windows-msvc",
    "--output",
    "dist/boreas-1.2.3-x86_64-pc-windows-msvc.exe",
    "main.ts",
  ]);
  assert.equal(binaryName("1.2.3", "aarch64-apple-darwin"), "boreas-1.2.3-aarch64-apple-darwin");
  const granted: readonly string[] = SERVER_PERMISSIONS;
  assert.ok(!granted.includes("--allow-all") && !granted.includes("-A"));
});

Deno.test("deno.json and the Dockerfile grant the compiled binary's permissions", async () => {
  const flags = SERVER_PERMISSIONS.join(" ");
  for (const task of ["start", "dev", "compile"] as const) {
    assert.ok(denoJson.tasks[task].includes(` ${flags} `), `task ${task}: ${denoJson.tasks[task]}`);
  }
  assert.ok(denoJson.tasks.compile.startsWith(`deno compile ${COMPILE_FLAGS.join(" ")} `));
  const dockerfile = await Deno.readTextFile(new URL("../Dockerfile", import.meta.url));
  assert.match(
    dockerfile,
    /deno compile --exclude-unused-npm --allow-net --allow-read --allow-write --allow-env='BOREAS_\*' --unstable-net/,
  );
});

Deno.test("the Dockerfile's build stage copies every local module main.ts imports", async () => {
  const dockerfile = await Deno.readTextFile(new URL("../Dockerfile", import.meta.url));
  const copied = [...dockerfile.matchAll(/^COPY (?!--)(.+) \.\/\S*$/gm)]
    .flatMap((match) => match[1]!.split(" "));
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "null",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: Array<{ specifier: string }>;
  };
  const root = new URL("..", import.meta.url).href;
  const local = graph.modules.map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith(root))
    .map((specifier) => specifier.slice(root.length));
  assert.ok(local.includes("src/server.ts") && local.includes("deno.json"), local.join(", "));
  for (const path of local) {
    assert.ok(copied.some((entry) => path === entry || path.startsWith(entry)), path);
  }
});

Deno.test("embeddedPackages() reads the npm packages of deno compile's Embedded Files tree", () => {
  const tree = [
    "Embedded Files",
    "",
    "boreas",
    "├─┬ .deno_compile_node_modules (3.65MB - 3.63MB unique)",
    "│ └─┬ localhost (3.65MB - 3.63MB unique)",
    "│   ├── @redis/client/* (2.9MB - 2.88MB unique)",
    "│   ├── jose/6.2.18/* (217.12KB)",
    "│   └── uplot/1.6.32/* (532.9KB - 532.86KB unique)",
    "├─┬ client (210.52KB)",
    "│ ├── api.ts (30.3KB)",
  ].join("\n");
  assert.deepEqual(embeddedPackages(tree), ["@redis/client", "jose", "uplot"]);
  assert.deepEqual(embeddedPackages("Embedded Files\n\nboreas\n└── main.ts (1KB)"), []);
});

Deno.test("checksumLine() writes the SHA-256 in sha256sum's format", async () => {
  const line = await checksumLine("boreas", new TextEncoder().encode("abc"));
  assert.equal(
    line,
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  boreas",
  );
});

Deno.test("main.ts bundled into one file runs from anywhere, reading no source file", async () => {
  await using dir = await tempDir();
  const bundle = `${dir.path}/boreas.js`;
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--output", bundle, "main.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(bundled.code, 0, new TextDecoder().decode(bundled.stderr));

  const command = { program: Deno.execPath(), args: ["run", ...SERVER_PERMISSIONS, bundle] };
  await using boreas = await spawnBoreas(["--api-port", "0", "--ws-port", "0"], {
    cwd: dir.path,
    command,
  });
  const { apiUrl } = endpointsOf(await boreas.linesUntil("Running..."));
  const response = await fetch(`${apiUrl}/health`);
  assert.deepEqual(await response.json(), { status: "ok" });
  // The dashboard's assets travel inside the one file too.
  const assets: Array<[path: string, text: string]> = [
    ["/dashboard", "<title>Boreas dashboard"],
    ["/dashboard/uplot.js", "uPlot"],
  ];
  for (const [path, text] of assets) {
    const asset = await fetch(`${apiUrl}${path}`);
    assert.equal(asset.status, 200, path);
    assert.ok((await asset.text()).includes(text), path);
  }
});
