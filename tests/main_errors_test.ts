import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { helpText } from "../src/config.ts";
import { commandsHelp } from "../src/commands.ts";
import { type Exit, spawnBoreas, tempDir } from "./process_helpers.ts";

const ON_PORT_0 = ["--api-port", "0", "--ws-port", "0"];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Runs `boreas ...args` in `cwd` to its exit. */
async function run(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Exit> {
  await using boreas = await spawnBoreas(args, options);
  return await boreas.exited();
}

/** Checks that stderr holds exactly one `boreas: ` line per expected problem, in order, and
 * nothing that looks like a stack trace. */
function assertProblems(stderr: string, expected: ReadonlyArray<string | RegExp>): void {
  assert.doesNotMatch(stderr, /Uncaught|^\s+at /m);
  const lines = stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, expected.length, stderr);
  lines.forEach((line, i) => {
    assert.ok(line.startsWith("boreas: "), line);
    const want = expected[i]!;
    if (typeof want === "string") assert.equal(line, want);
    else assert.match(line, want);
  });
}

Deno.test("main.ts --help prints every option and exits 0, even next to a bad one", async (t) => {
  await using dir = await tempDir();
  for (const args of [["--help"], ["-h"], ["--api-port", "abc", "--bogus", "--help"]]) {
    await t.step(args.join(" "), async () => {
      const exit = await run(args, { cwd: dir.path });
      assert.deepEqual([exit.code, exit.stderr], [0, ""]);
      assert.deepEqual(exit.stdout, `${helpText()}\n\n${commandsHelp()}`.split("\n"));
      for (const flag of ["--api-port PORT", "--ws-host HOST", "--no-require-auth", "--config"]) {
        assert.ok(exit.stdout.some((line) => line.includes(flag)), flag);
      }
      assert.ok(exit.stdout.some((line) => line.includes("BOREAS_TOKENS_URL")));
    });
  }
});

Deno.test("main.ts --version prints the version from deno.json and exits 0", async (t) => {
  await using dir = await tempDir();
  for (const flag of ["--version", "-V"]) {
    await t.step(flag, async () => {
      const exit = await run([flag], { cwd: dir.path });
      assert.deepEqual(exit, {
        code: 0,
        signal: null,
        stdout: [`boreas ${denoJson.version}`],
        stderr: "",
      });
    });
  }
});

Deno.test("main.ts exits 2 naming each bad option on stderr, without a stack", async (t) => {
  await using dir = await tempDir();
  const notJson = await dir.write("not_json.json", "{apiPort: 0");
  const missing = `${dir.path}/missing.txt`;
  const cases: Array<[string, string[], Record<string, string>, Array<string | RegExp>]> = [
    ["port abc", ["--api-port", "abc", "--ws-port", "0"], {}, [
      'boreas: --api-port: expected 0-65535, got "abc"',
    ]],
    ["port 70000", ["--api-port", "0", "--ws-port", "70000"], {}, [
      'boreas: --ws-port: expected 0-65535, got "70000"',
    ]],
    ["bad variable", ["--ws-port", "0"], { BOREAS_API_PORT: "80a" }, [
      'boreas: BOREAS_API_PORT: expected 0-65535, got "80a"',
    ]],
    ["unknown flag", [...ON_PORT_0, "--bogus"], {}, [
      "boreas: --bogus: unknown option (see --help)",
    ]],
    ["missing tokens file", [...ON_PORT_0, "--tokens-file", missing], {}, [
      new RegExp(`^boreas: --tokens-file: cannot read ${escapeRegExp(JSON.stringify(missing))}: `),
    ]],
    ["tokens file that is a directory", [...ON_PORT_0, "--tokens-file", dir.path], {}, [
      new RegExp(`^boreas: --tokens-file: cannot read ${escapeRegExp(JSON.stringify(dir.path))}: `),
    ]],
    ["config file not JSON", [...ON_PORT_0, "--config", notJson], {}, [
      new RegExp(
        `^boreas: ${
          escapeRegExp(notJson)
        }: expected a JSON config file, got text that is not valid JSON$`,
      ),
    ]],
    ["tokens URL that fails", [...ON_PORT_0, "--tokens-url", "http://127.0.0.1:1/"], {}, [
      /^boreas: --tokens-url: http:\/\/127\.0\.0\.1:1\/: request failed: /,
    ]],
    [
      "publish hook without a secret",
      [...ON_PORT_0, "--publish-hook-url", "http://u:pw@app.test/h"],
      {},
      [
        "boreas: --publish-hook-url: expected --webhook-secret too, to sign the requests",
      ],
    ],
    ["several problems", ["--api-port", "abc", "--ws-port", "70000", "--bogus"], {}, [
      "boreas: --bogus: unknown option (see --help)",
      'boreas: --api-port: expected 0-65535, got "abc"',
      'boreas: --ws-port: expected 0-65535, got "70000"',
    ]],
  ];
  for (const [name, args, env, expected] of cases) {
    await t.step(name, async () => {
      const exit = await run(args, { cwd: dir.path, env });
      assert.equal(exit.code, 2, exit.stderr);
      // Nothing was started: not even the banner's first line.
      assert.deepEqual(exit.stdout, []);
      assertProblems(exit.stderr, expected);
    });
  }
});

Deno.test("main.ts exits 2 naming ./boreas.json when it is not JSON", async () => {
  await using dir = await tempDir();
  // Without a newline: see the ignored multi-line case in config_test.ts.
  await dir.write("boreas.json", "apiPort = 0");
  const exit = await run(ON_PORT_0, { cwd: dir.path });
  assert.equal(exit.code, 2, exit.stderr);
  assertProblems(exit.stderr, [
    /^boreas: \.\/boreas\.json: expected a JSON config file, got text that is not valid JSON$/,
  ]);
});

for (const option of ["--api-port", "--ws-port"]) {
  Deno.test(`main.ts exits 1 naming ${option} when its port is in use`, async () => {
    await using dir = await tempDir();
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(taken.addr.port);
    const args = option === "--api-port"
      ? ["--api-port", port, "--ws-port", "0"]
      : ["--api-port", "0", "--ws-port", port];
    const exit = await run(args, { cwd: dir.path });
    assert.equal(exit.code, 1, exit.stderr);
    assertProblems(exit.stderr, [
      `boreas: ${option}: cannot listen on 127.0.0.1:${port}: address already in use`,
    ]);
    assert.ok(!exit.stdout.includes("Running..."), exit.stdout.join("\n"));
  });
}
