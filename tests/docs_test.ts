/**
 * The docs' commands, taken from the docs themselves and run as written with the tools the docs
 * name: the README's quick start, cluster and command-line helpers, and docs/protocol.md's curl
 * examples. Each `$` command is typed at a real `sh` (curl is the real curl), each WebSocket step
 * goes through the real `wsdump` fed through a pipe, and what they print must be what the docs
 * show (doc_commands.ts says how values that differ on every run are matched).
 */

import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { DEFAULT_CONFIG } from "../src/config.ts";
import { OPEN_GRANT } from "../src/grants.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  closeOf,
  publish,
} from "./integration_helpers.ts";
import { consoleSteps, DocSession, type DocStep } from "./doc_commands.ts";
import { assertHolds, runAsDocumented, runShown } from "./doc_runner.ts";
import { LiveCommand, Shell } from "./doc_terminals.ts";
import { MAIN_PERMISSIONS, serverCommand, tempDir } from "./process_helpers.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const PROTOCOL = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));

function readmeSteps(heading: string): DocStep[] {
  return consoleSteps(README, { source: "README.md", heading });
}

/** `METHOD /path?query` of a curl command line, to tell one example from another. */
function routeOf(command: string): string {
  const url = /(https?:\/\/[^\s']+)/.exec(command)?.[1] ?? "invalid:";
  const method = /-X\s+(\w+)/.exec(command)?.[1] ?? (/\s-d\s/.test(command) ? "POST" : "GET");
  const { pathname, search } = new URL(url);
  return `${method} ${pathname}${search}`;
}

/** Publishes to ch1 of `server` what the history example `kept` shows before the offset the
 * broadcast example `published` answers: numbers up to the first message shown, then those. */
async function publishShownBefore(server: TestServer, published: DocStep, kept: DocStep) {
  const { offset } = JSON.parse(published.output.join("\n")) as { offset: number };
  const { messages } = JSON.parse(kept.output.join("\n")) as {
    messages: Array<{ offset: number; message: unknown }>;
  };
  const before = messages.filter((message) => message.offset < offset);
  for (let filler = 1; filler < (before[0]?.offset ?? offset); filler++) {
    await publish(server, "ch1", filler);
  }
  for (const { message } of before) await publish(server, "ch1", message);
}

/** Runs the Server-Sent Events example `step` (`curl -N`, token in `$TOKEN`) against `server`,
 * publishes each event it shows once the stream has joined, and checks that curl prints it. */
async function runEventStream(step: DocStep, session: DocSession, server: TestServer) {
  const env = { TOKEN: await server.mintToken() };
  await using stream = new LiveCommand(session.resolve(step.text, step.where), { env });
  // ch2 has no other subscriber: once it has one, the stream has joined.
  await server.untilMembers("ch2", 1);
  for (const line of step.output) {
    const { message, channel } = JSON.parse(line.replace(/^data: /, ""));
    await publish(server, channel, message);
    session.expect([line], await stream.nextLine(`${step.where}: ${line}`), step.where);
  }
  stream.kill("SIGTERM");
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

Deno.test("consoleSteps reads commands, outputs, frames and their terminals, and fails on a moved or empty section", () => {
  const markdown = [
    "# Doc",
    "## A",
    "```console",
    "$ curl -X POST \\",
    "    -d '{}' http://localhost:8001/",
    '{"ok": 1}',
    '> {"a": 1}',
    '< {"b": 2}',
    "```",
    '```console title="bob"',
    "$ wsdump ws://localhost:8002",
    '< {"c": 3}',
    "```",
    "## B",
    "```sh",
    "$ echo",
    "```",
  ].join("\n");
  assert.deepEqual(consoleSteps(markdown, { source: "x.md", heading: "## A" }), [
    {
      kind: "command",
      text: "curl -X POST \\\n    -d '{}' http://localhost:8001/",
      output: ['{"ok": 1}'],
      where: "x.md:4",
      terminal: "",
    },
    { kind: "send", text: '{"a": 1}', output: [], where: "x.md:7", terminal: "" },
    { kind: "receive", text: '< {"b": 2}', output: [], where: "x.md:8", terminal: "" },
    {
      kind: "command",
      text: "wsdump ws://localhost:8002",
      output: [],
      where: "x.md:11",
      terminal: "bob",
    },
    { kind: "receive", text: '< {"c": 3}', output: [], where: "x.md:12", terminal: "bob" },
  ]);
  const steps = (heading: string) => () => consoleSteps(markdown, { source: "x.md", heading });
  assert.throws(steps("## Quick start"), /x\.md: expected one heading "## Quick start", found 0/);
  assert.throws(steps("## B"), /x\.md: no `\$` command in a console block under ## B/);
  assert.throws(
    () => consoleSteps("```console\nstray\n```", { source: "x.md" }),
    /x\.md:2: "stray" follows no `\$` command/,
  );
});

Deno.test("DocSession matches varying values by shape and holds each to one real value", () => {
  const session = new DocSession();
  const real = "a".repeat(128) + "-1700000000";
  assert.throws(() => session.resolve("curl http://localhost:8001/", "x.md:1"), /port 8001/);
  session.bindPort(8001, 40001);
  session.expect(['{"token": "I4my...-1361390859"}'], `{"token": "${real}"}\n`, "x.md:2");
  assert.equal(
    session.resolve('curl localhost:8001 -d \'{"access_token": "I4my..."}\'', "x.md:3"),
    `curl localhost:40001 -d '{"access_token": "${real}"}'`,
  );
  assert.equal(session.matches(['{"token": "I4my...-1361390859"}'], `{"token": "${real}"}`), true);
  assert.equal(session.matches(['{"token": "I4my...-1361390859"}'], '{"token": "other"}'), false);
  // A second value shown differently must be another real one.
  assert.throws(
    () => session.expect(['{"token": "WJIL...-1361390902"}'], `{"token": "${real}"}`, "x.md:4"),
    /x\.md:4: WJIL\.\.\.-1361390902 and I4my\.\.\.-1361390859 are both/,
  );
  assert.throws(() => session.resolve('{"access_token": "Zz..."}', "x.md:5"), /was not shown/);
  // A value shown twice in one output is one real value.
  const [b, c] = ["b", "c"].map((letter) => letter.repeat(128) + "-1700000000");
  assert.equal(session.matches(["Q1...-5 Q1...-5"], `${b} ${c}`), false);
  session.expect(["Q1...-5 Q1...-5"], `${b} ${b}`, "x.md:6");
  assert.equal(session.resolve("Q1...-5", "x.md:7"), b);
  assert.throws(() => session.expect(["Running..."], "Running!", "x.md:8"), /x\.md:8/);
});

Deno.test("README quick start: its commands, run as written with curl and wsdump, print what it shows", async () => {
  // The README starts the server with `deno task start`; the tests start what that task runs.
  assert.equal(denoJson.tasks.start, ["deno run", ...MAIN_PERMISSIONS, "main.ts"].join(" "));
  const steps = readmeSteps("## Quick start");
  assertHolds(steps, ["deno task start", "curl -X POST", "curl http", "wsdump", ">", "<"]);
  await using dir = await tempDir();
  await runAsDocumented(steps, dir.path);
});

Deno.test("README cluster: Redis and two nodes as written, a token from one, a subscriber on the other", async () => {
  const steps = readmeSteps("## Running a cluster");
  assertHolds(steps, ["redis-server", "deno task start", "curl", "wsdump", ">", "<"]);
  assert.equal(steps.filter(({ text }) => text.startsWith("deno task start")).length, 2);
  await using dir = await tempDir();
  await runAsDocumented(steps, dir.path);
});

Deno.test("README command-line helpers: the boreas commands print what it shows", async () => {
  const steps = readmeSteps("## Command-line helpers");
  await using server = await startTestServer();
  // `boreas publish ch1` shows 1: ch1 has a subscriber.
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["ch1"]);
  await using dir = await tempDir();
  // The commands find the server on its free port through BOREAS_API_PORT, as the README says
  // they can; `boreas` is main.ts, run as `deno task start` runs it.
  const env = { BOREAS_API_PORT: String(server.apiAddr.port) };
  await using shell = new Shell({ cwd: dir.path, env });
  const { program, args } = serverCommand();
  await shell.run(`boreas() { ${[program, ...args].map(shellQuote).join(" ")} "$@"; }`);
  const session = new DocSession();
  for (const step of steps) {
    assert.ok(step.kind === "command" && /\bboreas /.test(step.text), `${step.where}: not boreas`);
    await runShown(shell, step, session);
  }
  // One publish arrived and the dry run sent nothing; the token created is revoked.
  assert.equal((await client.next() as { channel: string }).channel, "ch1");
  await assertNothingReceived(client);
  assert.equal(await server.tokens.count(), 1);
});

Deno.test("docs/protocol.md: each curl example with an answer shown gives that answer", async () => {
  const examples = consoleSteps(PROTOCOL, { source: "docs/protocol.md" })
    .filter(({ kind, output }) => kind === "command" && output.length > 0);
  const next = (route: string) => {
    const step = examples.shift();
    assert.ok(step, `docs/protocol.md shows no more examples; expected ${route}`);
    assert.equal(routeOf(step.text), route, `${step.where}: another example than expected`);
    return step;
  };
  await using plain = await startTestServer();
  await using history = await startTestServer({ historySize: 100 });
  await using shell = new Shell();
  const session = new DocSession();
  const on = (server: TestServer) => {
    session.bindPort(DEFAULT_CONFIG.apiPort, server.apiAddr.port);
    session.bindPort(DEFAULT_CONFIG.wsPort, server.wsAddr.port);
  };

  on(plain);
  await runShown(shell, next("POST /token/"), session);
  await runShown(shell, next("POST /token/"), session);
  // GET /token/ lists the tokens in use: the one it shows is held by a connection, which joins
  // ch1 for the broadcast after it.
  const inUse = next("GET /token/");
  const shownInUse = JSON.parse(session.resolve(inUse.output.join("\n"), inUse.where));
  await using subscriber = await TestClient.connect(plain.wsUrl);
  await authenticateAndJoin(subscriber, (shownInUse as { tokens: string[] }).tokens[0]!, ["ch1"]);
  await runShown(shell, inUse, session);
  await runShown(shell, next("POST /broadcast/ch1/"), session);
  const published = next("POST /broadcast/ch1/");
  // ch1 has that subscriber, ch2 none.
  await runShown(shell, next("POST /broadcast/"), session);

  // The broadcasts with history are shown before the user routes, and run after them.
  const publishedToMany = next("POST /broadcast/");

  // The user routes: alice has two connections on one token, which the DELETE closes and
  // revokes; then she is blocked.
  const alice = await plain.tokens.mint({ ...OPEN_GRANT, user: "alice" });
  await using aliceHere = await TestClient.connect(plain.wsUrl);
  await using aliceThere = await TestClient.connect(plain.wsUrl);
  for (const client of [aliceHere, aliceThere]) await authenticateAndJoin(client, alice);
  await runShown(shell, next("GET /users/alice/"), session);
  await runShown(shell, next("DELETE /users/alice/"), session);
  for (const client of [aliceHere, aliceThere]) {
    assert.deepEqual(await closeOf(client), { code: 4005, reason: "disconnected" });
  }
  await runShown(shell, next("PUT /users/alice/block"), session);
  assert.equal(await plain.tokens.isValid(alice), false);
  assert.notEqual(await plain.cluster.users.blockOf("alice"), null);

  // With history: ch1 has a subscriber, and holds the messages the history example shows
  // before the one published, at their offsets; the broadcast to many comes after both.
  on(history);
  const kept = next("GET /history/ch1/?since=40");
  await using historySubscriber = await TestClient.connect(history.wsUrl);
  await authenticateAndJoin(historySubscriber, await history.mintToken());
  historySubscriber.send({ channels: { join: ["ch1"], leave: [] } });
  await history.untilMembers("ch1", 1);
  await publishShownBefore(history, published, kept);
  await runShown(shell, published, session);
  await runShown(shell, kept, session);
  await runShown(shell, publishedToMany, session);

  // Server-Sent Events: curl streams, under the token in $TOKEN, each broadcast it shows.
  on(plain);
  const events = next("GET /events?channel=ch1&channel=ch2");
  assert.deepEqual(
    examples.map(({ where }) => where),
    [],
    "examples this test sets up no state for",
  );
  await runEventStream(events, session, plain);
});
