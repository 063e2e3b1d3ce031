import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/config.ts";

/** The problems of the `ConfigError` that `loadConfig` throws, reading only `files`; each must
 * be one line. */
function problemsOf(
  args: string[] = [],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): readonly string[] {
  const readFile = (path: string) => Object.hasOwn(files, path) ? files[path] : undefined;
  try {
    loadConfig(args, env, { readFile });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.message, error.problems.join("\n"));
    for (const problem of error.problems) assert.doesNotMatch(problem, /\n/);
    return error.problems;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify({ args, env, files })}`);
}

Deno.test("loadConfig() rejects a missing or unreadable named config file", () => {
  assert.deepEqual(problemsOf(["--config", "gone.json"]), ["gone.json: config file not found"]);
  assert.deepEqual(problemsOf([], { BOREAS_CONFIG: "gone.json" }), [
    "gone.json: config file not found",
  ]);
  const readFile = () => {
    throw new Error("permission denied");
  };
  assert.throws(() => loadConfig(["--config", "locked.json"], {}, { readFile }), {
    name: "ConfigError",
    problems: ["locked.json: cannot read config file: permission denied"],
  });
});

Deno.test("loadConfig() names the option and quotes the value of every bad flag", () => {
  const cases: Array<[string[], string]> = [
    [["--api-port", "abc"], '--api-port: expected 0-65535, got "abc"'],
    [["--api-port", "70000"], '--api-port: expected 0-65535, got "70000"'],
    [["--api-port", "-1"], '--api-port: expected 0-65535, got "-1"'],
    [["--ws-port", "80a"], '--ws-port: expected 0-65535, got "80a"'],
    [["--ws-port", "8.5"], '--ws-port: expected 0-65535, got "8.5"'],
    [["--bogus"], "--bogus: unknown option (see --help)"],
    [["--no-api-port"], "--no-api-port: unknown option (see --help)"],
    [["-x"], "-x: unknown option (see --help)"],
    [["--api-port"], "--api-port: expected a value"],
    [["stray"], '"stray": unexpected argument (see --help)'],
    [["--debug=maybe"], '--debug: expected true or false, got "maybe"'],
    [["--no-debug=true"], "--no-debug: expected no value"],
    [["--log-level", "loud"], '--log-level: expected one of debug, info, warn, error, got "loud"'],
    [
      ["--tokens-url", "ftp://x.test/t"],
      '--tokens-url: expected an http or https URL, got "ftp://x.test/t"',
    ],
    [["--tokens-url", "not a url"], '--tokens-url: expected an http or https URL, got "not a url"'],
    [["--api-host="], '--api-host: expected a host name or IP address, got ""'],
    [["--ws-host", " "], '--ws-host: expected a host name or IP address, got " "'],
    [
      ["--api-host", "no such host"],
      '--api-host: expected a host name or IP address, got "no such host"',
    ],
    [["--ws-host", "::1::x"], '--ws-host: expected a host name or IP address, got "::1::x"'],
    [
      ["--max-body-bytes", "0"],
      '--max-body-bytes: expected a whole number of at least 1, got "0"',
    ],
    [
      ["--max-anonymous-connections", "0"],
      '--max-anonymous-connections: expected a whole number of at least 1, got "0"',
    ],
    [
      ["--allowed-hosts", "ok.test,boreas.test:8001"],
      '--allowed-hosts: expected host names or IP addresses without a port, or *, got "boreas.test:8001"',
    ],
    [
      ["--allowed-hosts", "http://boreas.test"],
      '--allowed-hosts: expected host names or IP addresses without a port, or *, got "http://boreas.test"',
    ],
    [
      ["--join-leave", "room:*", "--join-leave", "."],
      '--join-leave: expected channel patterns: pattern[1]: expected a channel name other than "." (in pattern ".")',
    ],
    [["--leave-delay", "soon"], '--leave-delay: expected a number of seconds, got "soon"'],
    [
      ["--max-members-listed", "0"],
      '--max-members-listed: expected a whole number of at least 1, got "0"',
    ],
  ];
  for (const [args, problem] of cases) {
    assert.deepEqual(problemsOf(args), [problem], args.join(" "));
  }
});

Deno.test("loadConfig() names the variable and quotes the value of every bad variable", () => {
  assert.deepEqual(problemsOf([], { BOREAS_WS_PORT: "80a", BOREAS_DEBUG: "maybe" }), [
    'BOREAS_WS_PORT: expected 0-65535, got "80a"',
    'BOREAS_DEBUG: expected true or false, got "maybe"',
  ]);
  assert.deepEqual(problemsOf([], { BOREAS_API_HOST: "" }), [
    'BOREAS_API_HOST: expected a host name or IP address, got ""',
  ]);
});

Deno.test("loadConfig() names the file and the key of every bad config file", () => {
  const inFile = (text: string) => problemsOf([], {}, { "./boreas.json": text });
  assert.deepEqual(inFile("{apiPort: 1}"), [
    "./boreas.json: expected a JSON config file, got text that is not valid JSON",
  ]);
  for (const text of ["[1]", "null", '"x"', "3"]) {
    assert.deepEqual(inFile(text), ["./boreas.json: expected a JSON object of options"], text);
  }
  assert.deepEqual(inFile('{"colour": "red"}'), ["./boreas.json: colour: unknown option"]);
  assert.deepEqual(inFile('{"apiPort": "x"}'), [
    './boreas.json: apiPort: expected 0-65535, got "x"',
  ]);
  assert.deepEqual(inFile('{"debug": 1}'), ["./boreas.json: debug: expected true or false, got 1"]);
  assert.deepEqual(inFile('{"wsPort": 1.5}'), ["./boreas.json: wsPort: expected 0-65535, got 1.5"]);
  assert.deepEqual(problemsOf(["--config", "my.json"], {}, { "my.json": '{"api_port": true}' }), [
    "my.json: apiPort: expected 0-65535, got true",
  ]);
});

Deno.test("loadConfig() reports a multi-line config file that is not JSON on one line", () => {
  const problems = problemsOf([], {}, { "./boreas.json": "apiPort = 0\n" });
  assert.deepEqual(problems, [
    "./boreas.json: expected a JSON config file, got text that is not valid JSON",
  ]);
});

Deno.test("loadConfig() rejects both a tokens file and a tokens URL, from any source", () => {
  const both = "--tokens-file and --tokens-url: expected one token provider, got both";
  assert.deepEqual(problemsOf(["--tokens-file", "t.txt", "--tokens-url", "http://a.test/"]), [
    both,
  ]);
  assert.deepEqual(
    problemsOf(["--tokens-file", "t.txt"], {}, {
      "./boreas.json": '{"tokensUrl": "http://a.test/"}',
    }),
    [both],
  );
});

Deno.test("loadConfig() reports every problem at once", () => {
  const problems = problemsOf(
    ["--api-port", "abc", "--bogus", "stray", "--log-level", "loud"],
    { BOREAS_WS_PORT: "70000" },
    { "./boreas.json": '{"colour": 1, "maxBodyBytes": 0}' },
  );
  assert.deepEqual(
    [...problems].sort(),
    [
      '"stray": unexpected argument (see --help)',
      '--api-port: expected 0-65535, got "abc"',
      "--bogus: unknown option (see --help)",
      '--log-level: expected one of debug, info, warn, error, got "loud"',
      "./boreas.json: colour: unknown option",
      "./boreas.json: maxBodyBytes: expected a whole number of at least 1, got 0",
      'BOREAS_WS_PORT: expected 0-65535, got "70000"',
    ].sort(),
  );
});

Deno.test("loadConfig() does not take the next flag as a missing value", () => {
  assert.deepEqual(problemsOf(["--api-port", "--ws-port", "1"]), ["--api-port: expected a value"]);
  assert.deepEqual(problemsOf(["--ws-port"]), ["--ws-port: expected a value"]);
});

Deno.test("loadConfig() reports an empty --config and a key given twice in the file", () => {
  assert.deepEqual(problemsOf(["--config="]), ['--config: expected a file path, got ""']);
  assert.deepEqual(problemsOf([], {}, { "./boreas.json": '{"apiPort": 1, "api_port": 2}' }), [
    "./boreas.json: api_port: option given twice",
  ]);
});

Deno.test("loadConfig() hides the password of a rejected tokens URL", () => {
  const [problem] = problemsOf(["--tokens-url", "ftp://u:secret@x.test/"]);
  assert.ok(problem?.startsWith("--tokens-url: expected an http or https URL"), problem);
  assert.ok(!problem?.includes("secret"), problem);
});

Deno.test("loadConfig() rejects a malformed --redis-url without showing its password", () => {
  const cases: Array<[raw: string, problem: string]> = [
    ["http://r.test", 'expected a redis:// or rediss:// URL, got "http://r.test"'],
    ["redis://r.test/x", 'expected a database number 0-99 as the path, got "redis://r.test/x"'],
    ["redis://r.test?db=1", 'expected no query or fragment, got "redis://r.test?db=1"'],
    [
      "redis://:s3cret@r.test/x",
      'expected a database number 0-99 as the path, got "redis://:***@r.test/x"',
    ],
    [
      "redis://:s3cret@ bad",
      "expected redis://[[user]:password@]host[:port][/db] or rediss://..., got a URL with credentials (not shown)",
    ],
  ];
  for (const [raw, problem] of cases) {
    const problems = problemsOf(["--redis-url", raw]);
    assert.deepEqual(problems, [`--redis-url: ${problem}`]);
    assert.ok(!problems.join().includes("s3cret"));
  }
});

Deno.test("loadConfig() rejects a bad --redis-prefix, --node-id and --node-timeout", () => {
  assert.deepEqual(
    problemsOf(["--redis-prefix", "a:{b}", "--node-id", "", "--node-timeout", "0"]),
    [
      '--redis-prefix: expected 1-64 characters of A-Z a-z 0-9 . _ -, got "a:{b}"',
      '--node-id: expected 1-64 characters of A-Z a-z 0-9 . _ -, got ""',
      '--node-timeout: expected a number of seconds above 0, got "0"',
    ],
  );
});

Deno.test("loadConfig() rejects --token-store together with --redis-url, naming both", () => {
  assert.deepEqual(problemsOf(["--token-store", "t.log", "--redis-url", "redis://r.test"]), [
    "--token-store and --redis-url: expected one of them, got both (in cluster mode Redis holds the tokens)",
  ]);
});

Deno.test("loadConfig() rejects --redis-url with --redis-sentinel, and Sentinel options without it", () => {
  const sentinel = ["--redis-sentinel", "s.test:26379", "--redis-sentinel-master", "boreas"];
  assert.deepEqual(problemsOf(["--redis-url", "redis://r.test", ...sentinel]), [
    "--redis-url and --redis-sentinel: expected one of them, got both",
  ]);
  assert.deepEqual(problemsOf(["--redis-sentinel", "s.test"]), [
    "--redis-sentinel: expected --redis-sentinel-master too, naming the master",
  ]);
  assert.deepEqual(problemsOf(["--token-store", "t.log", ...sentinel]), [
    "--token-store and --redis-sentinel: expected one of them, got both (in cluster mode Redis holds the tokens)",
  ]);
  assert.deepEqual(
    problemsOf(["--redis-url", "redis://r.test", "--redis-password", "hunter2", "--redis-tls"]),
    [
      "--redis-password: expected --redis-sentinel or --redis-cluster too (with --redis-url, in the URL: redis://:PASSWORD@host)",
      "--redis-tls: expected --redis-sentinel or --redis-cluster too (with --redis-url, a rediss:// URL)",
    ],
  );
  assert.deepEqual(
    problemsOf([], {
      BOREAS_REDIS_SENTINEL_MASTER: "boreas",
      BOREAS_REDIS_SENTINEL_PASSWORD: "hunter2",
      BOREAS_REDIS_USERNAME: "u",
    }),
    [
      "--redis-sentinel-master: expected --redis-sentinel too",
      "--redis-sentinel-password: expected --redis-sentinel too",
      "--redis-username: expected --redis-sentinel or --redis-cluster too (with --redis-url, in the URL: redis://USER:PASSWORD@host)",
    ],
  );
});

Deno.test("loadConfig() takes --redis-cluster alone, with its credentials, and refuses it with another way to Redis", () => {
  const cluster = ["--redis-cluster", "r1.test:7000", "--redis-cluster", "[::1]:7001"];
  const config = loadConfig([...cluster, "--redis-password", "hunter2", "--redis-tls"], {}, {
    readFile: () => undefined,
  });
  assert.deepEqual(
    [config.redisCluster, config.redisPassword, config.redisTls],
    [["r1.test:7000", "[::1]:7001"], "hunter2", true],
  );
  assert.deepEqual(problemsOf([...cluster, "--redis-url", "redis://r.test"]), [
    "--redis-url and --redis-cluster: expected one of them, got both",
  ]);
  assert.deepEqual(
    problemsOf([...cluster, "--redis-url", "redis://r.test", "--redis-sentinel", "s.test:1"]),
    [
      "--redis-url and --redis-sentinel and --redis-cluster: expected one of them, got all three",
      "--redis-sentinel: expected --redis-sentinel-master too, naming the master",
    ],
  );
  assert.deepEqual(problemsOf([...cluster, "--redis-sentinel-master", "boreas"]), [
    "--redis-sentinel-master: expected --redis-sentinel too",
  ]);
  assert.deepEqual(problemsOf(["--token-store", "t.log", ...cluster]), [
    "--token-store and --redis-cluster: expected one of them, got both (in cluster mode Redis holds the tokens)",
  ]);
  assert.deepEqual(problemsOf(["--redis-cluster", "r1.test:0"]), [
    '--redis-cluster: expected HOST:PORT addresses, got "r1.test:0"',
  ]);
});

Deno.test("loadConfig() rejects a bad --redis-sentinel address, and never shows a password", () => {
  const master = ["--redis-sentinel-master", "boreas"];
  for (const bad of ["s.test:0", "s.test:99999", "::1", "s test:1", "redis://s.test:1", ""]) {
    assert.deepEqual(problemsOf([...master, "--redis-sentinel", bad]), [
      `--redis-sentinel: expected HOST:PORT addresses, got ${JSON.stringify(bad)}`,
    ]);
  }
  assert.deepEqual(problemsOf(master, { BOREAS_REDIS_SENTINEL: "a.test:1,b.test:x" }), [
    'BOREAS_REDIS_SENTINEL: expected HOST:PORT addresses, got "b.test:x"',
  ]);
  assert.deepEqual(
    problemsOf([...master, "--redis-sentinel", "s.test", "--redis-password="], {
      BOREAS_REDIS_SENTINEL_PASSWORD: "",
    }),
    [
      "BOREAS_REDIS_SENTINEL_PASSWORD: expected a non-empty secret",
      "--redis-password: expected a non-empty secret",
    ],
  );
});

Deno.test("loadConfig() rejects a bad --history-size, --history-ttl or --history-max-bytes", () => {
  const args = ["--history-size", "-1", "--history-ttl", "0", "--history-max-bytes", "0"];
  assert.deepEqual(problemsOf(args), [
    '--history-size: expected a whole number from 0 to 1000000, got "-1"',
    '--history-ttl: expected a number of seconds above 0, got "0"',
    '--history-max-bytes: expected a whole number of at least 1, got "0"',
  ]);
  assert.deepEqual(problemsOf(["--history-size", "x"]), [
    '--history-size: expected a whole number from 0 to 1000000, got "x"',
  ]);
});

Deno.test("loadConfig() accepts one JWT key at most, and never echoes the secret", () => {
  assert.deepEqual(problemsOf(["--jwt-secret", "s3cret", "--jwks-url", "https://a.test/jwks"]), [
    "--jwt-secret and --jwks-url: expected one JWT key, got 2",
  ]);
  const problems = problemsOf(["--jwt-secret", ""]);
  assert.deepEqual(problems, ["--jwt-secret: expected a non-empty secret"]);
});

Deno.test("loadConfig() refuses --publish-hook-url without --webhook-secret, and bad values", () => {
  assert.deepEqual(problemsOf(["--publish-hook-url", "https://app.test/hook"]), [
    "--publish-hook-url: expected --webhook-secret too, to sign the requests",
  ]);
  assert.deepEqual(
    problemsOf(["--publish-hook-url", "ftp://u:pw@app.test/hook", "--webhook-secret", "s"]),
    ['--publish-hook-url: expected an http or https URL, got "ftp://u:***@app.test/hook"'],
  );
  assert.deepEqual(problemsOf(["--publish-hook-timeout", "0"]), [
    '--publish-hook-timeout: expected a number of seconds above 0, got "0"',
  ]);
});

Deno.test("loadConfig() refuses --webhook-url without --webhook-secret, and non-http URLs", () => {
  assert.deepEqual(problemsOf(["--webhook-url", "https://a.test/h"]), [
    "--webhook-url: expected --webhook-secret too, to sign the batches",
  ]);
  assert.deepEqual(problemsOf(["--webhook-url", "ftp://a.test/h", "--webhook-secret", "s"]), [
    "--webhook-url: expected http or https URLs",
  ]);
});
