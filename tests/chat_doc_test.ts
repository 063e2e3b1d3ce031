/** docs/chat.md, run as written: its example backend (docs/examples/chat_backend.ts), Boreas
 * with the chat options, curl, and one wsdump per terminal the page names, printing exactly what
 * the page shows: members, joins, messages with their user, the hook's refusal, a leave and a
 * block. */

import assert from "node:assert/strict";
import { consoleSteps } from "./doc_commands.ts";
import { assertHolds, runAsDocumented } from "./doc_runner.ts";
import { tempDir } from "./process_helpers.ts";

const CHAT = await Deno.readTextFile(new URL("../docs/chat.md", import.meta.url));

Deno.test("docs/chat.md: the chat runs as written, hook, two terminals and a block included", async () => {
  const steps = consoleSteps(CHAT, { source: "docs/chat.md" });
  assertHolds(steps, ["deno run", "curl -w", "deno task start", "curl -X POST", "curl -X PUT"]);
  // Each piece of the chat is still shown, in the terminal that shows it.
  const shown: Array<[terminal: string, text: string]> = [
    ["alice", '< {"ref": 2, "ok": true, "members": ["alice"]}'],
    ["bob", '"members": ["alice", "bob"]'],
    ["alice", '"joined": {"user": "bob"}'],
    ["alice", '{"publish": {"channel": "room:1"'],
    ["bob", '"user": "alice"}'],
    ["alice", '"user": "bob"}'],
    ["bob", '"error": "publish: rejected: '],
    ["alice", '"left": {"user": "bob"}'],
    ["bob", '"error": "access_token: user blocked"'],
  ];
  for (const [terminal, text] of shown) {
    const isThere = steps.some((step) => step.terminal === terminal && step.text.includes(text));
    assert.ok(isThere, `docs/chat.md: ${terminal}'s terminal no longer shows ${text}`);
  }
  const bobStarts = steps.filter(({ terminal, text }) =>
    terminal === "bob" && /^wsdump/.test(text)
  );
  assert.equal(bobStarts.length, 2, "docs/chat.md: bob connects, then tries again once blocked");
  await using dir = await tempDir();
  await runAsDocumented(steps, dir.path);
});
