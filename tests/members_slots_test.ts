/**
 * The members' Redis keys and scripts (`--join-leave`, Pusher presence) keep to one Redis
 * Cluster slot per script call, as Redis Cluster requires: checked on the key shapes, and on
 * every script call Redis saw (`MONITOR`) while nodes wrote, listed, reaped and swept members.
 * A Redis written by Boreas 0.1's layout (all channels' pending lefts in one set, each node's
 * channels under its own tag) is moved to today's as nodes connect: its lefts are sent, and its
 * dead node's users leave.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import { RedisKeys } from "../src/backend/keys.ts";
import { renderMemberEvent } from "../src/protocol.ts";
import { startNode } from "./cluster_helpers.ts";
import { type TestClient, withTimeout } from "./helpers.ts";
import { closeClient } from "./integration_helpers.ts";
import { authenticated, mint } from "./modes.ts";
import { startRedis } from "./redis_server.ts";
import MEMBERS_ADOPT_LUA from "../src/backend/lua/members_adopt.lua" with { type: "text" };
import MEMBERS_DEAD_LUA from "../src/backend/lua/members_dead.lua" with { type: "text" };
import MEMBERS_DUE_LUA from "../src/backend/lua/members_due.lua" with { type: "text" };
import MEMBERS_ENLIST_LUA from "../src/backend/lua/members_enlist.lua" with { type: "text" };
import MEMBERS_FORGET_LUA from "../src/backend/lua/members_forget.lua" with { type: "text" };
import MEMBERS_LIST_LUA from "../src/backend/lua/members_list.lua" with { type: "text" };
import MEMBERS_REAP_LUA from "../src/backend/lua/members_reap.lua" with { type: "text" };
import MEMBERS_RELIST_LUA from "../src/backend/lua/members_relist.lua" with { type: "text" };
import MEMBERS_SEND_LUA from "../src/backend/lua/members_send.lua" with { type: "text" };
import MEMBERS_SYNC_LUA from "../src/backend/lua/members_sync.lua" with { type: "text" };

/** Each members script's body, by name: a script Redis runs ends with one of them. */
const MEMBERS_SCRIPTS: Record<string, string> = {
  adopt: MEMBERS_ADOPT_LUA,
  dead: MEMBERS_DEAD_LUA,
  due: MEMBERS_DUE_LUA,
  enlist: MEMBERS_ENLIST_LUA,
  forget: MEMBERS_FORGET_LUA,
  list: MEMBERS_LIST_LUA,
  reap: MEMBERS_REAP_LUA,
  relist: MEMBERS_RELIST_LUA,
  send: MEMBERS_SEND_LUA,
  sync: MEMBERS_SYNC_LUA,
};

/** Commands the scripts run that name no key, and those whose every argument is a key; any
 * other names one key, its first argument. */
const KEYLESS = new Set(["TIME", "PUBLISH", "SPUBLISH"]);
const ALL_KEYS = new Set(["DEL", "EXISTS", "UNLINK"]);

/** The one slot of `keys`, or a failure naming the keys of each slot. */
function oneSlot(keys: readonly string[], what = "keys"): number {
  const slots = new Set(keys.map((key) => calculateSlot(key)));
  assert.equal(slots.size, 1, `${what} in several slots: ${keys.join(", ")}`);
  return [...slots][0]!;
}

Deno.test("the keys each members script takes share one slot", () => {
  const keys = new RedisKeys("boreas");
  for (const channel of ["room:1", "{odd}:name", "presence-chat"]) {
    for (const node of ["a", "node-7"]) {
      // The channel's write, reap and send, and its roster.
      oneSlot([
        keys.members(channel),
        keys.memberInfos(channel),
        keys.nodeMembers(channel, node),
        keys.leavingMembers(channel),
        keys.leftFrames(channel),
      ]);
    }
  }
  // The node's list of channels, checked against the live nodes and listed among the nodes
  // with members.
  for (const kind of ["", ":pusher"]) {
    oneSlot([
      keys.nodes,
      keys.memberNodes(kind),
      ...["a", "node-7", "members"].map((node) => keys.memberChannels(node, kind)),
    ]);
  }
  assert.notEqual(calculateSlot(keys.members("room:1")), calculateSlot(keys.members("room:2")));
});

Deno.test("no members key of today's is one of Boreas 0.1's, nor a node's record", () => {
  const keys = new RedisKeys("boreas");
  const today = ["", ":pusher"].flatMap((kind) => [
    keys.memberNodes(kind),
    keys.leavingChannels(kind),
    ...["a", "members"].map((node) => keys.memberChannels(node, kind)),
  ]);
  const others = ["", ":pusher"].flatMap((kind) => {
    const legacy = keys.legacyMemberKeys(kind);
    return [legacy.leaving, legacy.nodes, legacy.channelsOf("a")];
  });
  for (const node of ["a", "members"]) {
    others.push(keys.nodeConnections(node), keys.nodeCounters(node));
  }
  assert.equal(new Set([...today, ...others]).size, today.length + others.length);
});

Deno.test("members on a Redis Boreas 0.1 wrote: its lefts are sent, each script call in one slot", async (t) => {
  await using redis = await startRedis();
  await using monitor = await monitorRedis(redis.port);
  const rooms = { joinLeave: ["room:*"], leaveDelay: 0.2 };
  await using a = await startNode(redis.url, "a", rooms);
  await using bob = await authenticated(a, (await mint(a, { user: "bob" })).token as string);
  await join(bob, ["room:1", "room:2"]);
  // Written as Boreas 0.1 wrote them: node "ghost", dead, had zed in room:1; yan's left in
  // room:2 is due.
  const leftOf = (channel: string, user: string) =>
    JSON.stringify({ channel, user, frame: renderMemberEvent(channel, "left", user) });
  await redis.cli("HSET", "boreas:{room:1}:members", "zed", "1");
  await redis.cli("HSET", "boreas:{room:1}:users:ghost", "zed", leftOf("room:1", "zed"));
  await redis.cli("SADD", "boreas:node:{ghost}:members", "room:1");
  await redis.cli("SADD", "boreas:members:nodes", "ghost");
  await redis.cli("HSET", "boreas:{room:2}:members", "yan", "0");
  await redis.cli("ZADD", "boreas:members:leaving", "1", leftOf("room:2", "yan"));

  await t.step("a node that connects moves them: the lefts are sent once", async () => {
    await using b = await startNode(redis.url, "b", rooms);
    assert.deepEqual(await nextSorted(bob, 2), [
      event("left", "zed", "room:1"),
      event("left", "yan", "room:2"),
    ]);
    assert.equal(
      await redis.cli(
        "EXISTS",
        "boreas:members:leaving",
        "boreas:members:nodes",
        "boreas:node:{ghost}:members",
        "boreas:{nodes}:ghost:members",
        "boreas:{room:1}:users:ghost",
      ),
      "0",
    );
    assert.equal(await redis.cli("SISMEMBER", "boreas:{nodes}:members", "ghost"), "0");
    // One who comes and goes on the other node is all bob sees next.
    await using alice = await authenticated(b, (await mint(b, { user: "alice" })).token as string);
    await join(alice, ["room:1", "room:2"]);
    assert.deepEqual(await nextSorted(bob, 2), [
      event("joined", "alice", "room:1"),
      event("joined", "alice", "room:2"),
    ]);
    await closeClient(alice);
    assert.deepEqual(await nextSorted(bob, 2), [
      event("left", "alice", "room:1"),
      event("left", "alice", "room:2"),
    ]);
  });

  await t.step(
    "every members script call's keys, and the keys it touched, share one slot",
    async () => {
      const calls = scriptCalls(await monitor.stop());
      const seen = new Set<string>();
      for (const { name, keys, touched } of calls) {
        seen.add(name);
        oneSlot([...keys, ...touched], `the keys of a ${name} call`);
      }
      assert.deepEqual([...seen].sort(), Object.keys(MEMBERS_SCRIPTS).sort());
    },
  );
});

/** Joins `channels`, awaiting the reply. */
async function join(client: TestClient, channels: readonly string[]): Promise<void> {
  const reply = await client.request({ channels: { join: channels, leave: [] } }, "join");
  assert.equal((reply as { ok?: boolean }).ok, true, JSON.stringify(reply));
}

/** `user` joined or left `channel`, as subscribers receive it, as JSON text. */
function event(change: "joined" | "left", user: string, channel: string): string {
  return JSON.stringify({ channel, [change]: { user } });
}

/** The next `n` messages `client` receives, as JSON text, sorted: channels' events come in
 * any order. */
async function nextSorted(client: TestClient, n: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    seen.push(JSON.stringify(await client.next(`event ${i + 1} of ${n}`, 5_000)));
  }
  return seen.sort();
}

/** A `redis-cli MONITOR` of the test's Redis, listening once it answered. */
interface Monitor extends AsyncDisposable {
  /** Stops it; resolves to every line it printed. */
  stop(): Promise<string[]>;
}

async function monitorRedis(port: number): Promise<Monitor> {
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(port), "MONITOR"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  let answered!: () => void;
  const isListening = new Promise<void>((resolve) => answered = resolve);
  const read = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.startsWith("OK\n")) answered();
    }
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await Promise.all([child.status, read]);
    return text.split("\n");
  };
  await withTimeout(isListening, "redis-cli MONITOR to listen").catch(async (error) => {
    await stop();
    throw error;
  });
  let stopped: Promise<string[]> | undefined;
  return {
    stop: () => stopped ??= stop(),
    [Symbol.asyncDispose]: async () => void await (stopped ??= stop()),
  };
}

/** One call of a members script as MONITOR showed it. */
interface ScriptCall {
  readonly name: string;
  readonly keys: readonly string[];
  /** The keys its commands touched. */
  readonly touched: string[];
}

/** The members script calls among MONITOR's `lines`: an `EVAL` or `EVALSHA` line, followed by
 * the `lua` lines of the commands it ran. */
function scriptCalls(lines: readonly string[]): ScriptCall[] {
  const names = new Map<string, string>();
  const calls: ScriptCall[] = [];
  let current: ScriptCall | null = null;
  for (const line of lines) {
    const match = /^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (match === null) continue;
    const [command = "", ...args] = argsOf(match[2]!);
    if (match[1] === "lua") {
      if (current === null) continue;
      const upper = command.toUpperCase();
      if (ALL_KEYS.has(upper)) current.touched.push(...args);
      else if (!KEYLESS.has(upper)) current.touched.push(args[0]!);
      continue;
    }
    current = null;
    const upper = command.toUpperCase();
    if (upper !== "EVAL" && upper !== "EVALSHA") continue;
    const [script = "", count = "0", ...rest] = args;
    if (upper === "EVAL") {
      const name = Object.keys(MEMBERS_SCRIPTS).find((name) =>
        script.endsWith(MEMBERS_SCRIPTS[name]!)
      );
      if (name !== undefined) names.set(createHash("sha1").update(script).digest("hex"), name);
    }
    const sha = upper === "EVAL" ? createHash("sha1").update(script).digest("hex") : script;
    const name = names.get(sha);
    if (name === undefined) continue;
    current = { name, keys: rest.slice(0, Number(count)), touched: [] };
    calls.push(current);
  }
  return calls;
}

/** The arguments of a MONITOR line, each quoted and escaped as Redis prints them. */
function argsOf(text: string): string[] {
  const args: string[] = [];
  for (const [, quoted] of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const bytes: number[] = [];
    const escapes: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8 };
    for (let i = 0; i < quoted!.length; i++) {
      const char = quoted![i]!;
      if (char !== "\\") {
        bytes.push(...new TextEncoder().encode(char));
        continue;
      }
      const next = quoted![++i]!;
      if (next === "x") {
        bytes.push(parseInt(quoted!.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(escapes[next] ?? next.charCodeAt(0));
    }
    args.push(new TextDecoder().decode(new Uint8Array(bytes)));
  }
  return args;
}
