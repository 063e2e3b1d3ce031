/** A chat room in two pages of a real Chromium, each a chat client built on the client bundle
 * with nothing but the token the test mints for it, as the chat's backend would (docs/chat.md):
 * they talk both ways with the server's `user` on each message, the backend's publish hook
 * refuses a banned word, and a blocked user's client is refused when it reconnects. */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { BoreasApi } from "../client/mod.ts";
import type * as Client from "../client/mod.ts";
import { launchBrowser, startPageServer, type TestBrowser } from "./browser.ts";
import { startTestServer, WAIT_MS, withTimeout } from "./helpers.ts";
import { startHookBackend } from "./hook_backend.ts";

const SECRET = "chat-test-secret";
const ROOM = "room:1";

/** The chat page: `chat.enter()` joins a room with a token, `chat.say()` publishes to it, and
 * every event the subscriber yields lands in `chat.events`, in order (`chat.messages()`: the
 * messages among them); `chat.ended` is the `kind` of the error that ended it. */
const CHAT_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Boreas chat</title>
<script type="module">
  import { BoreasSubscriber } from "/boreas-client.js";
  globalThis.chat = {
    events: [],
    ended: null,
    async enter({ url, token, room }) {
      this.room = room;
      this.subscriber = await BoreasSubscriber.connect({
        url,
        token,
        channels: [room],
        reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      (async () => {
        for await (const event of this.subscriber.events()) this.events.push(event);
      })().catch((error) => this.ended = error.kind);
    },
    messages() {
      return this.events.filter((event) => event.type === "message");
    },
    memberEvents() {
      return this.events.filter((event) => event.type === "joined" || event.type === "members");
    },
    async say(text) {
      try {
        await this.subscriber.publish(this.room, { text });
        return "sent";
      } catch (error) {
        return error.message;
      }
    },
  };
</script>
`;

/** What the chat page keeps on its `globalThis`. */
interface ChatGlobals {
  chat: {
    events: Client.SubscriberEvent<{ text: string }>[];
    messages(): Client.BroadcastEvent<{ text: string }>[];
    memberEvents(): unknown[];
    ended: string | null;
    enter(options: { url: string; token: string; room: string }): Promise<void>;
    say(text: string): Promise<string>;
  };
}

/** Opens a chat page and enters `ROOM` with `token`. */
async function enterChat(
  browser: TestBrowser,
  at: { page: string; url: string; token: string },
): Promise<Page> {
  const page = await browser.open(at.page);
  await page.waitForFunction(() => "chat" in globalThis, undefined, { timeout: WAIT_MS });
  await withTimeout(
    page.evaluate(
      (options) => (globalThis as unknown as ChatGlobals).chat.enter(options),
      { url: at.url, token: at.token, room: ROOM },
    ),
    "the chat page to enter the room",
  );
  return page;
}

/** The members events (`members` lists and `joined`) the page's client has read, once there
 * are `count`. */
async function memberEventsIn(page: Page, count: number): Promise<unknown[]> {
  await page.waitForFunction(
    (count) => (globalThis as unknown as ChatGlobals).chat.memberEvents().length >= count,
    count,
  );
  return await page.evaluate(() => (globalThis as unknown as ChatGlobals).chat.memberEvents());
}

/** What the page's chat client answers to saying `text`: `sent`, or why not. */
function say(page: Page, text: string): Promise<string> {
  return withTimeout(
    page.evaluate((text) => (globalThis as unknown as ChatGlobals).chat.say(text), text),
    `the page to say ${JSON.stringify(text)}`,
  );
}

/** The messages the page's chat client has read, once there are `count`. */
async function messagesIn(page: Page, count: number): Promise<unknown[]> {
  // Playwright runs these functions' source in the page: they can use nothing from here.
  await page.waitForFunction(
    (count) => (globalThis as unknown as ChatGlobals).chat.messages().length >= count,
    count,
  );
  return await page.evaluate(() => (globalThis as unknown as ChatGlobals).chat.messages());
}

Deno.test("a chat in two browser pages: messages both ways with their user, a refusal by the hook, a block", async () => {
  await using hook = startHookBackend(SECRET);
  hook.answer = ({ body }) => {
    const { text } = body.payload as { text: string };
    return Response.json(/darn/.test(text) ? { error: "mind your language" } : {});
  };
  await using server = await startTestServer({
    joinLeave: ["room:*"],
    publishHookUrl: hook.url,
    webhookSecret: SECRET,
  });
  await using site = await startPageServer({ pages: { "/": CHAT_PAGE } });
  await using browser = await launchBrowser();
  // The backend: a token per user, naming them, for the rooms they may read and write.
  const backend = new BoreasApi({ url: server.apiUrl });
  const tokenOf = (user: string) =>
    backend.createToken({ user, channels: ["room:*"], publish: ["room:*"] });
  const page = site.url();
  const alice = await enterChat(browser, {
    page,
    url: server.wsUrl,
    token: await tokenOf("alice"),
  });
  const bob = await enterChat(browser, { page, url: server.wsUrl, token: await tokenOf("bob") });
  // Both are in the room, as the server counts it, and as each page sees it: alice saw herself
  // listed, then bob join; bob saw both listed.
  const presence = await (await server.api(`/presence/${ROOM}/`)).json();
  assert.deepEqual(presence, { connections: 2, users: ["alice", "bob"] });
  assert.deepEqual(await memberEventsIn(alice, 2), [
    { type: "members", channel: ROOM, users: ["alice"], isTruncated: false },
    { type: "joined", channel: ROOM, user: "bob" },
  ]);
  const [bobsList] = await memberEventsIn(bob, 1) as Array<{ users: string[] }>;
  assert.deepEqual(bobsList!.users.toSorted(), ["alice", "bob"]);

  assert.equal(await say(alice, "hi bob"), "sent");
  assert.deepEqual(await messagesIn(bob, 1), [
    { type: "message", channel: ROOM, message: { text: "hi bob" }, user: "alice" },
  ]);
  assert.equal(await say(bob, "darn, it works"), "publish: rejected: mind your language");
  assert.equal(await say(bob, "hi alice"), "sent");
  // Alice reads bob's answer, and nothing of what the hook refused.
  assert.deepEqual(await messagesIn(alice, 1), [
    { type: "message", channel: ROOM, message: { text: "hi alice" }, user: "bob" },
  ]);
  assert.deepEqual(
    hook.requests.map(({ body, isSigned }) => [body.user, body.payload, isSigned]),
    [
      ["alice", { text: "hi bob" }, true],
      ["bob", { text: "darn, it works" }, true],
      ["bob", { text: "hi alice" }, true],
    ],
  );

  await backend.blockUser("bob");
  await bob.waitForFunction(() => (globalThis as unknown as ChatGlobals).chat.ended !== null);
  assert.equal(
    await bob.evaluate(() => (globalThis as unknown as ChatGlobals).chat.ended),
    "auth-rejected",
  );
  assert.deepEqual(browser.pageErrors, []);
});
