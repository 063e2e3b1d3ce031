import assert from "node:assert/strict";
import {
  type JournalContents,
  openTokenJournal,
  replayJournal,
  type TokenJournal,
} from "../src/token_journal.ts";
import { loadStartupTokens } from "../src/token_sources.ts";
import { MemoryTokens } from "../src/backend/memory_tokens.ts";
import { ConfigError, DEFAULT_CONFIG } from "../src/config.ts";
import { tempDir } from "./process_helpers.ts";

/** The permission bits of `path`. */
async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

Deno.test("replayJournal() makes the last change of each token win", () => {
  assert.deepEqual(withoutGrants(replayJournal("+a\n-a\n+a\n-c\n+c\n-d\n")), {
    tokens: ["a", "c"],
    revoked: ["d"],
    skipped: 0,
  });
});

Deno.test("replayJournal() forgets a token added and then revoked, so the file stays small", () => {
  // Only a revocation of a token the journal never added (a provider's) has to be kept.
  assert.deepEqual(withoutGrants(replayJournal("+b\n-b\n")), {
    tokens: [],
    revoked: [],
    skipped: 0,
  });
  assert.deepEqual(withoutGrants(replayJournal("-p\n+p\n-p\n")), {
    tokens: [],
    revoked: [],
    skipped: 0,
  });
});

Deno.test("replayJournal() orders tokens by their last change", () => {
  const { tokens, revoked } = replayJournal("+a\n+b\n+c\n-a\n+a\n-x\n-y\n-z\n-x\n");
  assert.deepEqual(tokens, ["b", "c", "a"]);
  assert.deepEqual(revoked, ["y", "z", "x"]);
});

Deno.test("replayJournal() drops a torn last line and counts it", () => {
  // A torn `-` was never acknowledged: the token stays valid.
  assert.deepEqual(withoutGrants(replayJournal("+a\n+b\n-a")), {
    tokens: ["a", "b"],
    revoked: [],
    skipped: 1,
  });
  // A torn `+` must not make a token valid, even a prefix of a valid one.
  assert.deepEqual(withoutGrants(replayJournal("+abcdef\n+abc")), {
    tokens: ["abcdef"],
    revoked: [],
    skipped: 1,
  });
});

Deno.test("replayJournal() skips and counts malformed lines, keeping the rest", () => {
  const text = ["+a", "", "b", "+", "-", "*c", "+d e", "+f\t", " +g", "-h", "+i", ""].join("\n");
  assert.deepEqual(withoutGrants(replayJournal(text)), {
    tokens: ["a", "i"],
    revoked: ["h"],
    skipped: 8,
  });
});

Deno.test("replayJournal() of an empty file holds nothing", () => {
  assert.deepEqual(withoutGrants(replayJournal("")), { tokens: [], revoked: [], skipped: 0 });
});

Deno.test("openTokenJournal() compacts the file on disk with mode 0600", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.log", "+t1\n+t2\n+t3\n-t2\n+t1\ngarbage\n-t4\n+t5");
  await Deno.chmod(path, 0o644);
  const { journal, contents } = await openTokenJournal(path);
  await using _journal = journal;
  assert.deepEqual(withoutGrants(contents), { tokens: ["t3", "t1"], revoked: ["t4"], skipped: 2 });
  assert.equal(await Deno.readTextFile(path), "+t3\n+t1\n-t4\n");
  assert.equal(await modeOf(path), 0o600);
  // Compaction went through a temporary file, which must not be left behind.
  const names = (await Array.fromAsync(Deno.readDir(dir.path))).map((entry) => entry.name);
  assert.deepEqual(names, ["tokens.log"]);
});

Deno.test("openTokenJournal() gives mode 0600 even over a stale temporary file", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.log", "+t1\n");
  // A compaction that crashed before its rename leaves this behind.
  await dir.write("tokens.log.tmp", "+half");
  await Deno.chmod(`${path}.tmp`, 0o644);
  const { journal } = await openTokenJournal(path);
  await using _journal = journal;
  assert.equal(await Deno.readTextFile(path), "+t1\n");
  assert.equal(await modeOf(path), 0o600);
});

Deno.test("openTokenJournal() creates a missing file with mode 0600", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.log`;
  const { journal, contents } = await openTokenJournal(path);
  await using _journal = journal;
  assert.deepEqual(withoutGrants(contents), { tokens: [], revoked: [], skipped: 0 });
  assert.equal(await Deno.readTextFile(path), "");
  assert.equal(await modeOf(path), 0o600);
});

Deno.test("openTokenJournal() journal appends each change durably, in call order", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.log", "+old\n");
  const { journal } = await openTokenJournal(path);
  await using _journal = journal;
  await journal.append("add", "new");
  // Resolved means written: no close or flush is needed before reading it back.
  assert.equal(await Deno.readTextFile(path), "+old\n+new\n");
  const names = Array.from({ length: 20 }, (_, i) => `t${i}`);
  await Promise.all(names.map((name, i) => journal.append(i % 2 ? "revoke" : "add", name)));
  const expected = names.map((name, i) => `${i % 2 ? "-" : "+"}${name}\n`).join("");
  assert.equal(await Deno.readTextFile(path), `+old\n+new\n${expected}`);
  assert.equal(await modeOf(path), 0o600);
});

Deno.test("openTokenJournal() journal's dispose closes the file and refuses appends", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.log`;
  const { journal } = await openTokenJournal(path);
  const pending = journal.append("add", "last");
  // Dispose waits for the append before it; the resource sanitizer fails a leaked file.
  await journal[Symbol.asyncDispose]();
  await pending;
  assert.equal(await Deno.readTextFile(path), "+last\n");
  await assert.rejects(journal.append("add", "late"), /token journal is closed/);
  await journal[Symbol.asyncDispose]();
  assert.equal(await Deno.readTextFile(path), "+last\n");
});

Deno.test("openTokenJournal() reopens what an earlier journal wrote", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.log`;
  {
    const { journal } = await openTokenJournal(path);
    await using _journal = journal;
    const store = new MemoryTokens([], journal);
    const kept = await store.mint();
    const revoked = await store.mint();
    assert.equal(await store.revoke(revoked), true);
    assert.equal(await Deno.readTextFile(path), `+${kept}\n+${revoked}\n-${revoked}\n`);
  }
  const { journal, contents } = await openTokenJournal(path);
  await using _journal = journal;
  // The minted-then-revoked token is forgotten altogether.
  assert.equal(contents.tokens.length, 1);
  assert.equal(contents.revoked.length, 0);
  assert.equal(await Deno.readTextFile(path), `+${contents.tokens[0]}\n`);
});

/** Lets every pending promise callback run: one macrotask turn, not a wait for an event. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A journal whose appends resolve only when the test says so. */
function heldJournal() {
  const appended: string[] = [];
  const releases: Array<() => void> = [];
  const journal: TokenJournal = {
    append(change, token) {
      appended.push(`${change} ${token}`);
      return new Promise<void>((resolve) => releases.push(resolve));
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  return { journal, appended, release: () => releases.shift()?.() };
}

Deno.test("MemoryTokens.mint() with a journal resolves and accepts the token only once durable", async () => {
  const { journal, appended, release } = heldJournal();
  const store = new MemoryTokens([], journal);
  let minted: string | undefined;
  const minting = store.mint().then((token) => minted = token);
  await settle();
  assert.equal(appended.length, 1);
  const token = appended[0]!.slice("add ".length);
  assert.equal(minted, undefined);
  assert.equal(store.has(token), false);
  release();
  await minting;
  assert.equal(minted, token);
  assert.equal(store.has(token), true);
});

Deno.test("MemoryTokens.revoke() with a journal removes the token once the change is durable", async () => {
  const { journal, appended, release } = heldJournal();
  const store = new MemoryTokens(["t1"], journal);
  let isRevoked = false;
  const revoking = store.revoke("t1").then(() => isRevoked = true);
  await settle();
  assert.deepEqual([appended, isRevoked, store.has("t1")], [["revoke t1"], false, true]);
  release();
  assert.equal(await revoking, true);
  assert.equal(store.has("t1"), false);
});

Deno.test("MemoryTokens.revoke() changes nothing when the journal cannot be written", async () => {
  const journal: TokenJournal = {
    append: () => Promise.reject(new Error("disk full")),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const store = new MemoryTokens(["t1"], journal);
  await assert.rejects(store.revoke("t1"), /disk full/);
  assert.equal(store.has("t1"), true);
});

Deno.test("loadStartupTokens() revokes a provider's token that the store revoked", async () => {
  await using dir = await tempDir();
  const tokensFile = await dir.write("tokens.txt", "alpha\nbeta\n");
  const tokenStore = await dir.write("tokens.log", "-alpha\n+gamma\n+torn");
  const loaded = await loadStartupTokens({ ...DEFAULT_CONFIG, tokensFile, tokenStore });
  await using _journal = loaded.journal;
  assert.equal(loaded.provider, `--tokens-file ${tokensFile}`);
  assert.deepEqual([...loaded.tokens].sort(), ["beta", "gamma"]);
  assert.equal(loaded.skippedLines, 1);
  assert.ok(loaded.journal !== undefined);
  // Provider tokens are not copied into the store; the revocation stays.
  assert.equal(await Deno.readTextFile(tokenStore), "+gamma\n-alpha\n");
});

Deno.test("loadStartupTokens() names --token-store when the store cannot be opened", async (t) => {
  await using dir = await tempDir();
  const cases = [["a directory", dir.path], ["in a missing directory", `${dir.path}/no/t.log`]];
  for (const [label, tokenStore] of cases as Array<[string, string]>) {
    await t.step(label, async () => {
      await assert.rejects(
        loadStartupTokens({ ...DEFAULT_CONFIG, tokenStore }),
        (error) => {
          assert.ok(error instanceof ConfigError);
          const [problem, ...more] = error.problems;
          assert.deepEqual(more, []);
          const prefix = `--token-store: cannot open ${JSON.stringify(tokenStore)}: `;
          assert.ok(problem?.startsWith(prefix), problem);
          return true;
        },
      );
    });
  }
});

/** `contents` without its grants, which must be none: these journals hold plain tokens. */
function withoutGrants(
  { grants, blocks, ...rest }: JournalContents,
): Omit<JournalContents, "grants" | "blocks"> {
  assert.equal(grants.size, 0);
  assert.equal(blocks.size, 0);
  return rest;
}

Deno.test("replayJournal() keeps each token's grant and drops tokens that have expired", () => {
  const grant = '{"channels": ["room:*"], "expires_at": 2000, "user": "7"}';
  const expired = '{"channels": null, "expires_at": 500, "user": null}';
  const contents = replayJournal(`+a\t${grant}\n+b\t${expired}\n+c\n-d\t${grant}\n`, 1000);
  assert.deepEqual(contents.tokens, ["a", "c"]);
  assert.deepEqual(contents.revoked, ["d"]);
  assert.deepEqual([...contents.grants], [["a", {
    channels: ["room:*"],
    expiresAt: 2000,
    user: "7",
    publish: [],
  }]]);
  assert.equal(replayJournal("+a\tnot json\n").skipped, 1);
});

Deno.test("replayJournal() keeps the blocks not lifted and not over, the last change of each winning", () => {
  const text = [
    '!{"block":"alice","expires_at":null}',
    '!{"block":"bob","expires_at":2000}',
    '!{"block":"carol","expires_at":500}',
    '!{"block":"dave","expires_at":null}',
    '!{"unblock":"dave"}',
    '!{"block":"alice","expires_at":3000}',
    "+t",
    "!not json",
    '!{"block":"erin","expires_at":"soon"}',
    "",
  ].join("\n");
  const contents = replayJournal(text, 1000);
  assert.deepEqual([...contents.blocks], [
    ["bob", { expiresAt: 2000 }],
    ["alice", { expiresAt: 3000 }],
  ]);
  assert.deepEqual(contents.tokens, ["t"]);
  assert.equal(contents.skipped, 2);
});

Deno.test("the token journal keeps blocks and their ends, and compacts them at startup", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/tokens.log`;
  {
    const { journal } = await openTokenJournal(path);
    await using _journal = journal;
    await journal.append("add", "t1");
    await journal.appendBlock("ana maría\n7", { expiresAt: null });
    await journal.appendBlock("bob", { expiresAt: 4102444800 });
    await journal.appendBlock("carol", { expiresAt: null });
    await journal.appendBlock("carol", null);
    await journal.appendBlock("dave", { expiresAt: 1 });
  }
  assert.equal(
    await Deno.readTextFile(path),
    [
      "+t1",
      '!{"block":"ana maría\\n7","expires_at":null}',
      '!{"block":"bob","expires_at":4102444800}',
      '!{"block":"carol","expires_at":null}',
      '!{"unblock":"carol"}',
      '!{"block":"dave","expires_at":1}',
      "",
    ].join("\n"),
  );
  const { journal, contents } = await openTokenJournal(path);
  await using _journal = journal;
  assert.deepEqual([...contents.blocks], [
    ["ana maría\n7", { expiresAt: null }],
    ["bob", { expiresAt: 4102444800 }],
  ]);
  // Lifted and ended blocks are gone from the compacted file.
  assert.equal(
    await Deno.readTextFile(path),
    '+t1\n!{"block":"ana maría\\n7","expires_at":null}\n!{"block":"bob","expires_at":4102444800}\n',
  );
});
