import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, helpText, loadConfig } from "../src/config.ts";
import { PUSHER_WEBHOOK_EVENTS } from "../src/config_pusher_apps.ts";
import { spawnBoreas, tempDir } from "./process_helpers.ts";

function load(args: string[], env: Record<string, string> = {}, file?: unknown) {
  const text = file === undefined ? undefined : JSON.stringify(file);
  return loadConfig(args, env, { readFile: (path) => path === "./boreas.json" ? text : undefined });
}

/** The one problem `loadConfig` finds. */
function problemOf(args: string[], env: Record<string, string> = {}, file?: unknown): string {
  try {
    load(args, env, file);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 1, error.message);
    return error.problems[0]!;
  }
  assert.fail("expected a ConfigError");
}

const DEFAULTS = {
  enableClientMessages: false,
  maxConnections: null,
  maxEventPayloadKb: 10,
  activityTimeout: 120,
  webhooks: [],
};

Deno.test("no Pusher app by default", () => {
  assert.deepEqual(DEFAULT_CONFIG.pusherApps, []);
  assert.deepEqual(load([]).pusherApps, []);
});

Deno.test("--pusher-app ID:KEY:SECRET is repeatable; the secret may hold colons", () => {
  assert.deepEqual(load(["--pusher-app", "1:key-a:s1", "--pusher_app=2:key-b:s:2"]).pusherApps, [
    { id: "1", key: "key-a", secret: "s1", ...DEFAULTS },
    { id: "2", key: "key-b", secret: "s:2", ...DEFAULTS },
  ]);
});

Deno.test("BOREAS_PUSHER_APPS takes comma-separated apps", () => {
  assert.deepEqual(
    load([], { BOREAS_PUSHER_APPS: "1:a:x, 2:b:y" }).pusherApps.map(({ id, key, secret }) => ({
      id,
      key,
      secret,
    })),
    [{ id: "1", key: "a", secret: "x" }, { id: "2", key: "b", secret: "y" }],
  );
});

Deno.test("the config file's pusherApps carry per-app options", () => {
  const file = {
    pusherApps: [{
      id: "app-1",
      key: "k1",
      secret: "s1",
      enableClientMessages: true,
      maxConnections: 5,
      maxEventPayloadKb: 20,
      activityTimeout: 30,
      webhooks: [
        { url: "https://hooks.test/a", events: ["channel_occupied", "client_event"] },
        { url: "https://hooks.test/b" },
      ],
    }, { id: "app-2", key: "k2", secret: "s2" }],
  };
  assert.deepEqual(load([], {}, file).pusherApps, [
    {
      id: "app-1",
      key: "k1",
      secret: "s1",
      enableClientMessages: true,
      maxConnections: 5,
      maxEventPayloadKb: 20,
      activityTimeout: 30,
      webhooks: [
        { url: "https://hooks.test/a", events: ["channel_occupied", "client_event"] },
        { url: "https://hooks.test/b", events: [...PUSHER_WEBHOOK_EVENTS] },
      ],
    },
    { id: "app-2", key: "k2", secret: "s2", ...DEFAULTS },
  ]);
});

Deno.test("flags and environment replace the file's apps, options and all", () => {
  const file = { pusherApps: [{ id: "f", key: "fk", secret: "fs", enableClientMessages: true }] };
  assert.deepEqual(load(["--pusher-app", "1:k:s"], {}, file).pusherApps, [
    { id: "1", key: "k", secret: "s", ...DEFAULTS },
  ]);
  assert.deepEqual(
    load([], { BOREAS_PUSHER_APPS: "2:k:s" }, file).pusherApps.map((app) => app.id),
    ["2"],
  );
});

Deno.test("a bad app declaration is one problem naming the option, never the secret", () => {
  const cases: Array<[args: string[], env: Record<string, string>, file: unknown, want: string]> = [
    [
      ["--pusher-app", "1:k:"],
      {},
      undefined,
      '--pusher-app: app "1": secret: expected a non-empty secret',
    ],
    [["--pusher-app", "hunter2"], {}, undefined, "--pusher-app: app 1: expected ID:KEY:SECRET"],
    [
      ["--pusher-app", "1:k:hunter2", "--pusher-app", "1:j:hunter2"],
      {},
      undefined,
      '--pusher-app: id "1": declared twice',
    ],
    [
      [],
      { BOREAS_PUSHER_APPS: "1:k:hunter2,2:k:hunter2" },
      undefined,
      'BOREAS_PUSHER_APPS: key "k": declared twice',
    ],
    [
      ["--pusher-app", "a/b:k:hunter2"],
      {},
      undefined,
      "--pusher-app: app 1: id: expected 1-64 characters of A-Z a-z 0-9 . _ -",
    ],
    [
      ["--pusher-app", "1:k k:hunter2"],
      {},
      undefined,
      '--pusher-app: app "1": key: expected 1-64 characters of A-Z a-z 0-9 . _ -',
    ],
    [
      [],
      {},
      { pusherApps: [{ id: "1", key: "k" }] },
      './boreas.json: pusherApps: app "1": secret: expected a non-empty secret',
    ],
    [
      [],
      {},
      { pusherApps: [{ id: "1", key: "k", secret: "hunter2", enableClientEvents: true }] },
      './boreas.json: pusherApps: app "1": "enableClientEvents": unknown field',
    ],
    [
      [],
      {},
      { pusherApps: [{ id: "1", key: "k", secret: "hunter2", maxConnections: 0 }] },
      './boreas.json: pusherApps: app "1": maxConnections: expected a whole number of at least 1, got 0',
    ],
    [[], {}, {
      pusherApps: [{ id: "1", key: "k", secret: "hunter2", webhooks: [{ url: "ftp://x" }] }],
    }, './boreas.json: pusherApps: app "1": webhooks[0].url: expected an http or https URL'],
    [
      [],
      {},
      {
        pusherApps: [{
          id: "1",
          key: "k",
          secret: "hunter2",
          webhooks: [{ url: "http://x", events: ["nope"] }],
        }],
      },
      `./boreas.json: pusherApps: app "1": webhooks[0].events: expected a list of ${
        PUSHER_WEBHOOK_EVENTS.join(", ")
      }`,
    ],
    [
      [],
      {},
      { pusherApps: [42] },
      './boreas.json: pusherApps: app 1: expected "ID:KEY:SECRET" or an object with id, key, secret',
    ],
  ];
  for (const [args, env, file, want] of cases) {
    const problem = problemOf(args, env, file);
    assert.equal(problem, want);
    assert.ok(!problem.includes("hunter2"), problem);
  }
});

Deno.test("--help shows --pusher-app and BOREAS_PUSHER_APPS, with no secret", () => {
  const line = helpText().split("\n").find((text) => text.includes("--pusher-app ID:KEY:SECRET"));
  assert.ok(line !== undefined);
  assert.match(line, /default: none; env: BOREAS_PUSHER_APPS\)/);
});

Deno.test("main.ts stops on a bad --pusher-app with one line, and never prints the secret", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas(
    [
      "--api-port",
      "0",
      "--ws-port",
      "0",
      "--pusher-app",
      "1:k:hunter2",
      "--pusher-app",
      "2:k:hunter2",
    ],
    { cwd: dir.path },
  );
  const exit = await boreas.exited();
  assert.equal(exit.code, 2);
  assert.deepEqual(exit.stderr.trim().split("\n"), [
    'boreas: --pusher-app: key "k": declared twice',
  ]);
  assert.ok(!exit.stdout.join("\n").includes("hunter2"));
});
