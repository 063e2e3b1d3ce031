import assert from "node:assert/strict";
import {
  type Config,
  CONFIG_ENV_NAMES,
  DEFAULT_CONFIG,
  helpText,
  loadConfig,
  type LoadConfigOptions,
  requestedInfo,
} from "../src/config.ts";

type Env = Record<string, string>;

/** A `readFile` that knows only `files` and records every path it was asked for. */
function fakeFiles(files: Record<string, string> = {}): LoadConfigOptions & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readFile: (path) => {
      reads.push(path);
      return Object.hasOwn(files, path) ? files[path] : undefined;
    },
  };
}

function load(args: string[] = [], env: Env = {}, files: Record<string, string> = {}): Config {
  return loadConfig(args, env, fakeFiles(files));
}

Deno.test("loadConfig() returns the original's defaults when nothing overrides them", () => {
  const expected: Config = {
    apiHost: "127.0.0.1",
    apiPort: 8001,
    wsHost: "127.0.0.1",
    wsPort: 8002,
    debug: true,
    dashboard: true,
    requireAuth: true,
    tokensFile: null,
    tokensUrl: null,
    tokenStore: null,
    apiKey: [],
    maxBodyBytes: 1_048_576,
    bodyTimeout: 10,
    maxFrameBytes: 65_536,
    maxChannelsPerConnection: 1000,
    maxConnections: 100_000,
    maxAnonymousConnections: 1000,
    maxClientMessagesPerSecond: 50,
    maxBufferedBytes: 4_194_304,
    authTimeout: 60,
    pingInterval: 30,
    shutdownTimeout: 10,
    logLevel: "info",
    logFormat: "text",
    logOutput: "stderr",
    redisUrl: null,
    redisSentinel: [],
    redisCluster: [],
    redisSentinelMaster: null,
    redisSentinelPassword: null,
    redisUsername: null,
    redisPassword: null,
    redisTls: false,
    redisPrefix: "boreas",
    nodeId: null,
    nodeTimeout: 15,
    reusePort: false,
    historySize: 0,
    historyTtl: 300,
    historyMaxBytes: 67_108_864,
    jwtSecret: null,
    jwtPublicKey: null,
    jwksUrl: null,
    jwtAudience: null,
    jwtIssuer: null,
    webhookUrl: [],
    webhookSecret: null,
    webhookVacateDelay: 3,
    webhookQueueSize: 10_000,
    corsOrigin: [],
    allowedOrigins: [],
    allowedHosts: [],
    clientPublish: [],
    maxPublishBytes: 65_536,
    joinLeave: [],
    leaveDelay: 3,
    maxMembersListed: 1000,
    publishHookUrl: null,
    publishHookTimeout: 5,
    pusherApps: [],
  };
  assert.deepEqual(load(), expected);
  assert.deepEqual(DEFAULT_CONFIG, expected);
});

// Each option, set through its flag, its BOREAS_ variable and its config file key alone.
// deno-fmt-ignore
const EVERY_OPTION: Array<
  [key: keyof Config, flag: string, env: string, raw: string, json: unknown]
> = [
  ["apiHost", "--api-host", "BOREAS_API_HOST", "0.0.0.0", "0.0.0.0"],
  ["apiPort", "--api-port", "BOREAS_API_PORT", "9001", 9001],
  ["wsHost", "--ws-host", "BOREAS_WS_HOST", "::1", "::1"],
  ["wsPort", "--ws-port", "BOREAS_WS_PORT", "0", 0],
  ["debug", "--debug", "BOREAS_DEBUG", "false", false],
  ["dashboard", "--dashboard", "BOREAS_DASHBOARD", "false", false],
  ["requireAuth", "--require-auth", "BOREAS_REQUIRE_AUTH", "false", false],
  ["tokensFile", "--tokens-file", "BOREAS_TOKENS_FILE", "tokens.txt", "tokens.txt"],
  ["tokensUrl", "--tokens-url", "BOREAS_TOKENS_URL", "https://auth.test/t", "https://auth.test/t"],
  ["tokenStore", "--token-store", "BOREAS_TOKEN_STORE", "tokens.log", "tokens.log"],
  ["maxBodyBytes", "--max-body-bytes", "BOREAS_MAX_BODY_BYTES", "10", 10],
  ["bodyTimeout", "--body-timeout", "BOREAS_BODY_TIMEOUT", "2.5", 2.5],
  ["maxPublishBytes", "--max-publish-bytes", "BOREAS_MAX_PUBLISH_BYTES", "100", 100],
  ["maxFrameBytes", "--max-frame-bytes", "BOREAS_MAX_FRAME_BYTES", "11", 11],
  ["maxChannelsPerConnection", "--max-channels-per-connection", "BOREAS_MAX_CHANNELS_PER_CONNECTION", "12", 12],
  ["maxConnections", "--max-connections", "BOREAS_MAX_CONNECTIONS", "13", 13],
  ["maxAnonymousConnections", "--max-anonymous-connections", "BOREAS_MAX_ANONYMOUS_CONNECTIONS", "16", 16],
  ["maxClientMessagesPerSecond", "--max-client-messages-per-second", "BOREAS_MAX_CLIENT_MESSAGES_PER_SECOND", "14", 14],
  ["maxBufferedBytes", "--max-buffered-bytes", "BOREAS_MAX_BUFFERED_BYTES", "15", 15],
  ["authTimeout", "--auth-timeout", "BOREAS_AUTH_TIMEOUT", "1.5", 1.5],
  ["pingInterval", "--ping-interval", "BOREAS_PING_INTERVAL", "0", 0],
  ["shutdownTimeout", "--shutdown-timeout", "BOREAS_SHUTDOWN_TIMEOUT", "3", 3],
  ["logLevel", "--log-level", "BOREAS_LOG_LEVEL", "debug", "debug"],
  ["logFormat", "--log-format", "BOREAS_LOG_FORMAT", "json", "json"],
  ["logOutput", "--log-output", "BOREAS_LOG_OUTPUT", "stdout", "stdout"],
  ["redisUrl", "--redis-url", "BOREAS_REDIS_URL", "redis://:pw@r.test:6380/2", "redis://:pw@r.test:6380/2"],
  ["redisPrefix", "--redis-prefix", "BOREAS_REDIS_PREFIX", "chat", "chat"],
  ["nodeId", "--node-id", "BOREAS_NODE_ID", "node-a", "node-a"],
  ["nodeTimeout", "--node-timeout", "BOREAS_NODE_TIMEOUT", "2.5", 2.5],
  ["historySize", "--history-size", "BOREAS_HISTORY_SIZE", "100", 100],
  ["historyTtl", "--history-ttl", "BOREAS_HISTORY_TTL", "60", 60],
  ["historyMaxBytes", "--history-max-bytes", "BOREAS_HISTORY_MAX_BYTES", "1000000", 1_000_000],
  ["jwtSecret", "--jwt-secret", "BOREAS_JWT_SECRET", "s3cret", "s3cret"],
  ["jwtPublicKey", "--jwt-public-key", "BOREAS_JWT_PUBLIC_KEY", "key.pem", "key.pem"],
  ["jwksUrl", "--jwks-url", "BOREAS_JWKS_URL", "https://auth.test/jwks", "https://auth.test/jwks"],
  ["jwtAudience", "--jwt-audience", "BOREAS_JWT_AUDIENCE", "chat", "chat"],
  ["jwtIssuer", "--jwt-issuer", "BOREAS_JWT_ISSUER", "https://auth.test/", "https://auth.test/"],
  ["webhookSecret", "--webhook-secret", "BOREAS_WEBHOOK_SECRET", "whsec", "whsec"],
  ["webhookVacateDelay", "--webhook-vacate-delay", "BOREAS_WEBHOOK_VACATE_DELAY", "0.5", 0.5],
  ["webhookQueueSize", "--webhook-queue-size", "BOREAS_WEBHOOK_QUEUE_SIZE", "50", 50],
  ["leaveDelay", "--leave-delay", "BOREAS_LEAVE_DELAY", "0.25", 0.25],
  ["maxMembersListed", "--max-members-listed", "BOREAS_MAX_MEMBERS_LISTED", "2", 2],
  ["publishHookTimeout", "--publish-hook-timeout", "BOREAS_PUBLISH_HOOK_TIMEOUT", "0.5", 0.5],
];

Deno.test("loadConfig() reads every option from its flag, its variable and its file key", async (t) => {
  assert.deepEqual(
    [...CONFIG_ENV_NAMES].sort(),
    [
      "BOREAS_CONFIG",
      "BOREAS_API_KEY",
      "BOREAS_REUSE_PORT",
      "BOREAS_WEBHOOK_URL",
      "BOREAS_CORS_ORIGIN",
      "BOREAS_ALLOWED_ORIGINS",
      "BOREAS_ALLOWED_HOSTS",
      "BOREAS_CLIENT_PUBLISH",
      "BOREAS_JOIN_LEAVE",
      "BOREAS_PUBLISH_HOOK_URL",
      "BOREAS_PUSHER_APPS",
      ...SENTINEL_OPTIONS.map(([, , env]) => env),
      "BOREAS_REDIS_CLUSTER",
      ...EVERY_OPTION.map(([, , env]) => env),
    ].sort(),
  );
  for (const [key, flag, env, raw, json] of EVERY_OPTION) {
    await t.step(key, () => {
      assert.notEqual(DEFAULT_CONFIG[key], json);
      const flagArgs = typeof json === "boolean" ? [`--no-${flag.slice(2)}`] : [flag, raw];
      assert.equal(load(flagArgs)[key], json, flag);
      assert.equal(load([], { [env]: raw })[key], json, env);
      const file = JSON.stringify({ [key]: json });
      assert.equal(load([], {}, { "./boreas.json": file })[key], json, "./boreas.json");
    });
  }
});

// The Sentinel options, each set through its flag, its variable and its file key beside
// `--redis-sentinel` and `--redis-sentinel-master` (which they need).
// deno-fmt-ignore
const SENTINEL_OPTIONS: Array<
  [key: keyof Config, flag: string, env: string, raw: string, json: unknown]
> = [
  ["redisSentinelMaster", "--redis-sentinel-master", "BOREAS_REDIS_SENTINEL_MASTER", "main", "main"],
  ["redisSentinelPassword", "--redis-sentinel-password", "BOREAS_REDIS_SENTINEL_PASSWORD", "s3", "s3"],
  ["redisUsername", "--redis-username", "BOREAS_REDIS_USERNAME", "boreas", "boreas"],
  ["redisPassword", "--redis-password", "BOREAS_REDIS_PASSWORD", "pw", "pw"],
  ["redisTls", "--redis-tls", "BOREAS_REDIS_TLS", "true", true],
  ["redisSentinel", "--redis-sentinel", "BOREAS_REDIS_SENTINEL", "s.test:1", ["s.test:1"]],
];

Deno.test("loadConfig() reads every Sentinel option from its flag, its variable and its file key", async (t) => {
  const base = { redisSentinel: ["r.test:26379"], redisSentinelMaster: "boreas" };
  for (const [key, flag, env, raw, json] of SENTINEL_OPTIONS) {
    await t.step(key, () => {
      assert.notDeepEqual(DEFAULT_CONFIG[key], json);
      const rest = Object.entries(base).filter(([name]) => name !== key);
      const restFlags = rest.flatMap(([name, value]) =>
        [value].flat().flatMap((
          item,
        ) => [`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, item])
      );
      const flagArgs = typeof json === "boolean" ? [flag] : [flag, raw];
      assert.deepEqual(load([...restFlags, ...flagArgs])[key], json, flag);
      assert.deepEqual(load(restFlags, { [env]: raw })[key], json, env);
      const file = JSON.stringify({ ...Object.fromEntries(rest), [key]: json });
      assert.deepEqual(load([], {}, { "./boreas.json": file })[key], json, "./boreas.json");
    });
  }
});

Deno.test("loadConfig() reads --redis-cluster from repeated flags, its variable and its file key", () => {
  assert.deepEqual(
    load(["--redis-cluster", "a.test:7000", "--redis-cluster", "[::1]:7001"]).redisCluster,
    ["a.test:7000", "[::1]:7001"],
  );
  assert.deepEqual(load([], { BOREAS_REDIS_CLUSTER: "a.test:7000, b.test" }).redisCluster, [
    "a.test:7000",
    "b.test:6379",
  ]);
  assert.deepEqual(
    load([], {}, { "./boreas.json": '{"redisCluster": ["c.test:7002"]}' }).redisCluster,
    ["c.test:7002"],
  );
});

Deno.test("loadConfig() collects sentinels from repeated flags, commas and the file, as host:port", () => {
  const master = ["--redis-sentinel-master", "boreas"];
  assert.deepEqual(
    load([...master, "--redis-sentinel", "a.test:26380", "--redis-sentinel", "b.test"])
      .redisSentinel,
    ["a.test:26380", "b.test:26379"],
  );
  assert.deepEqual(
    load(master, { BOREAS_REDIS_SENTINEL: "10.0.0.1:5000, [::1]:5001,[::2]" }).redisSentinel,
    ["10.0.0.1:5000", "[::1]:5001", "[::2]:26379"],
  );
  assert.deepEqual(
    load(master, {}, { "./boreas.json": '{"redisSentinel": ["c.test:1"]}' }).redisSentinel,
    ["c.test:1"],
  );
});

Deno.test("loadConfig() reads --publish-hook-url from its flag, its variable and its file key", () => {
  const url = "https://hook-user:pw@app.test/hook";
  const secret = { BOREAS_WEBHOOK_SECRET: "s" };
  assert.equal(DEFAULT_CONFIG.publishHookUrl, null);
  assert.equal(load(["--publish-hook-url", url], secret).publishHookUrl, url);
  assert.equal(load([], { ...secret, BOREAS_PUBLISH_HOOK_URL: url }).publishHookUrl, url);
  const file = JSON.stringify({ publishHookUrl: url, webhookSecret: "s" });
  assert.equal(load([], {}, { "./boreas.json": file }).publishHookUrl, url);
});

Deno.test("loadConfig() turns --reuse-port on from its flag, its variable and its file key", () => {
  assert.equal(DEFAULT_CONFIG.reusePort, false);
  assert.equal(load(["--reuse-port"]).reusePort, true);
  assert.equal(load([], { BOREAS_REUSE_PORT: "1" }).reusePort, true);
  assert.equal(load([], {}, { "./boreas.json": '{"reusePort": true}' }).reusePort, true);
});

Deno.test("loadConfig() collects webhook URLs from repeated flags, commas and the file", () => {
  const secret = ["--webhook-secret", "s"];
  assert.deepEqual(
    load(["--webhook-url", "https://a.test/h", "--webhook-url", "http://b.test/h", ...secret])
      .webhookUrl,
    ["https://a.test/h", "http://b.test/h"],
  );
  assert.deepEqual(
    load(secret, { BOREAS_WEBHOOK_URL: "https://a.test/h,https://b.test/h" }).webhookUrl,
    ["https://a.test/h", "https://b.test/h"],
  );
  assert.deepEqual(
    load(secret, {}, { "./boreas.json": '{"webhookUrl": ["https://a.test/h"]}' }).webhookUrl,
    ["https://a.test/h"],
  );
});

Deno.test("loadConfig() collects --join-leave patterns from repeated flags, commas and the file", () => {
  assert.deepEqual(load(["--join-leave", "room:*", "--join-leave", "lobby"]).joinLeave, [
    "room:*",
    "lobby",
  ]);
  assert.deepEqual(load([], { BOREAS_JOIN_LEAVE: "room:*, dm:*" }).joinLeave, ["room:*", "dm:*"]);
  assert.deepEqual(
    load([], {}, { "./boreas.json": '{"joinLeave": ["*"]}' }).joinLeave,
    ["*"],
  );
});

Deno.test("loadConfig() collects --allowed-hosts from repeated flags, commas and the file", () => {
  assert.deepEqual(
    load(["--allowed-hosts", "boreas.test", "--allowed-hosts", "10.0.0.5,[fd00::1], ::2"])
      .allowedHosts,
    ["boreas.test", "10.0.0.5", "[fd00::1]", "::2"],
  );
  assert.deepEqual(load([], { BOREAS_ALLOWED_HOSTS: "*" }).allowedHosts, ["*"]);
  assert.deepEqual(
    load([], {}, { "./boreas.json": '{"allowedHosts": ["a.test", "b.test"]}' }).allowedHosts,
    ["a.test", "b.test"],
  );
});

Deno.test("loadConfig() collects --client-publish patterns, and names a bad one", () => {
  assert.deepEqual(
    load(["--no-require-auth", "--client-publish", "lobby", "--client-publish", "room:*,news"])
      .clientPublish,
    ["lobby", "room:*", "news"],
  );
  assert.deepEqual(load([], { BOREAS_CLIENT_PUBLISH: "a*" }).clientPublish, ["a*"]);
  assert.deepEqual(
    load([], {}, { "./boreas.json": '{"clientPublish": ["x"]}' }).clientPublish,
    ["x"],
  );
  assert.throws(() => load(["--client-publish", ""]), /--client-publish/);
});

Deno.test("loadConfig() prefers a flag over the environment", () => {
  const env = { BOREAS_API_PORT: "1111", BOREAS_WS_HOST: "10.0.0.1", BOREAS_DEBUG: "true" };
  const config = load(["--api-port", "2222", "--ws-host", "10.0.0.2", "--no-debug"], env);
  assert.equal(config.apiPort, 2222);
  assert.equal(config.wsHost, "10.0.0.2");
  assert.equal(config.debug, false);
  // A flag wins even over a bad variable, which is then never parsed.
  assert.equal(load(["--log-level", "warn"], { BOREAS_LOG_LEVEL: "loud" }).logLevel, "warn");
});

Deno.test("loadConfig() prefers the environment over the config file", () => {
  const file = JSON.stringify({ apiPort: 1111, logLevel: "error", requireAuth: true });
  const env = { BOREAS_API_PORT: "2222", BOREAS_LOG_LEVEL: "debug", BOREAS_REQUIRE_AUTH: "off" };
  const config = load([], env, { "./boreas.json": file });
  assert.equal(config.apiPort, 2222);
  assert.equal(config.logLevel, "debug");
  assert.equal(config.requireAuth, false);
});

Deno.test("loadConfig() layers flags, environment, file and defaults per option", () => {
  const file = JSON.stringify({ apiPort: 1, wsPort: 2, maxBodyBytes: 3, logLevel: "warn" });
  const env = { BOREAS_API_PORT: "11", BOREAS_WS_PORT: "12" };
  const config = load(["--api-port", "21"], env, { "./boreas.json": file });
  assert.deepEqual(
    { ...config },
    { ...DEFAULT_CONFIG, apiPort: 21, wsPort: 12, maxBodyBytes: 3, logLevel: "warn" },
  );
});

Deno.test("loadConfig() reads the file named by --config or BOREAS_CONFIG instead of ./boreas.json", () => {
  const files = {
    "./boreas.json": '{"apiPort": 1}',
    "env.json": '{"apiPort": 2}',
    "flag.json": '{"apiPort": 3}',
  };
  const fromEnv = fakeFiles(files);
  assert.equal(loadConfig([], { BOREAS_CONFIG: "env.json" }, fromEnv).apiPort, 2);
  assert.deepEqual(fromEnv.reads, ["env.json"]);
  const fromFlag = fakeFiles(files);
  assert.equal(
    loadConfig(["--config", "flag.json"], { BOREAS_CONFIG: "env.json" }, fromFlag).apiPort,
    3,
  );
  assert.deepEqual(fromFlag.reads, ["flag.json"]);
  assert.equal(load(["--config=flag.json"], {}, files).apiPort, 3);
});

Deno.test("loadConfig() reads ./boreas.json when present and does without it when missing", () => {
  const present = fakeFiles({ "./boreas.json": '{"wsPort": 9002}' });
  assert.equal(loadConfig([], {}, present).wsPort, 9002);
  const missing = fakeFiles();
  assert.deepEqual(loadConfig([], {}, missing), DEFAULT_CONFIG);
  assert.deepEqual(missing.reads, ["./boreas.json"]);
});

Deno.test("loadConfig() accepts camelCase, kebab-case and snake_case config file keys", () => {
  for (const keys of [["apiPort", "wsHost"], ["api-port", "ws-host"], ["api_port", "ws_host"]]) {
    const file = JSON.stringify({ [keys[0]!]: 7000, [keys[1]!]: "0.0.0.0" });
    const config = load([], {}, { "./boreas.json": file });
    assert.deepEqual([config.apiPort, config.wsHost], [7000, "0.0.0.0"], keys.join(", "));
  }
});

Deno.test("loadConfig() accepts the original's underscore flag spellings", () => {
  const config = load(["--api_port", "7001", "--ws_host", "0.0.0.0", "--ws_port=7002"]);
  assert.deepEqual([config.apiPort, config.wsHost, config.wsPort], [7001, "0.0.0.0", 7002]);
  assert.equal(load(["--no-require_auth"]).requireAuth, false);
  assert.equal(load(["--require_auth=false"]).requireAuth, false);
  assert.equal(load(["--no-require-auth", "--require_auth"]).requireAuth, true);
  const more = load(["--max_body_bytes", "5", "--log_level", "warn"]);
  assert.deepEqual([more.maxBodyBytes, more.logLevel], [5, "warn"]);
});

Deno.test("loadConfig() reads booleans from --flag, --no-flag, --flag=word and words in env", () => {
  assert.equal(load(["--no-debug"]).debug, false);
  assert.equal(load(["--no-debug", "--debug"]).debug, true);
  assert.equal(load(["--no-dashboard"]).dashboard, false);
  assert.equal(load([], { BOREAS_DASHBOARD: "0" }).dashboard, false);
  assert.equal(load(["--debug"], { BOREAS_DEBUG: "false" }).debug, true);
  for (const word of ["false", "0", "no", "off", "FALSE"]) {
    assert.equal(load([`--debug=${word}`]).debug, false, `--debug=${word}`);
    assert.equal(load([`--require-auth=${word}`]).requireAuth, false, `--require-auth=${word}`);
    assert.equal(load([], { BOREAS_DEBUG: word }).debug, false, `BOREAS_DEBUG=${word}`);
  }
  for (const word of ["true", "1", "yes", "on"]) {
    assert.equal(load([`--debug=${word}`], { BOREAS_DEBUG: "false" }).debug, true);
    assert.equal(
      load([], { BOREAS_REQUIRE_AUTH: word }, {
        "./boreas.json": '{"requireAuth": false}',
      }).requireAuth,
      true,
    );
  }
});

Deno.test("loadConfig() returns a frozen Config", () => {
  const config = load(["--api-port", "0"]);
  assert.ok(Object.isFrozen(config));
  assert.throws(() => {
    (config as { apiPort: number }).apiPort = 1;
  }, TypeError);
  assert.equal(config.apiPort, 0);
});

Deno.test("requestedInfo() finds --help, -h, --version and -V before a --", () => {
  assert.equal(requestedInfo([]), null);
  assert.equal(requestedInfo(["--api-port", "0"]), null);
  assert.equal(requestedInfo(["--help"]), "help");
  assert.equal(requestedInfo(["--api-port", "abc", "-h"]), "help");
  assert.equal(requestedInfo(["--version"]), "version");
  assert.equal(requestedInfo(["--bogus", "-V"]), "version");
  assert.equal(requestedInfo(["--version", "--help"]), "help");
  assert.equal(requestedInfo(["--", "--help"]), null);
  assert.equal(requestedInfo(["--no-debug", "--", "-V"]), null);
});

Deno.test("helpText() lists every option's flag, default and BOREAS_ variable", () => {
  const lines = helpText().split("\n");
  const lineOf = (flag: string) => {
    const found = lines.find((line) => line.trimStart().startsWith(flag));
    assert.ok(found !== undefined, `no help line starts with ${flag}`);
    return found;
  };
  for (const [key, flag, env] of EVERY_OPTION) {
    const line = lineOf(flag);
    const fallback = DEFAULT_CONFIG[key];
    assert.ok(line.includes(`default: ${fallback === null ? "none" : fallback}`), line);
    assert.ok(line.includes(`env: ${env}`), line);
    if (typeof fallback === "boolean") assert.ok(line.includes(`--no-${flag.slice(2)}`), line);
  }
  assert.match(lineOf("--config"), /BOREAS_CONFIG/);
  assert.match(lineOf("--help"), /-h\b/);
  assert.match(lineOf("--version"), /-V\b/);
});

Deno.test("loadConfig() collects API keys from repeated flags, commas, env and file", () => {
  assert.deepEqual(load(["--api-key", "a", "--api_key=b,c"]).apiKey, ["a", "b", "c"]);
  assert.deepEqual(load([], { BOREAS_API_KEY: "k1, k2" }).apiKey, ["k1", "k2"]);
  assert.deepEqual(load([], {}, { "./boreas.json": '{"apiKey": ["x", "y"]}' }).apiKey, ["x", "y"]);
  assert.deepEqual(load([], {}, { "./boreas.json": '{"api-key": "z"}' }).apiKey, ["z"]);
  assert.deepEqual(load(["--api-key", "flag"], { BOREAS_API_KEY: "env" }).apiKey, ["flag"]);
  assert.throws(() => load(["--api-key", "has space"]), (error: Error) => {
    assert.equal(
      error.message,
      "--api-key: expected keys of printable characters without spaces or commas",
    );
    return true;
  });
});
