/**
 * docs/pusher.md's migration from Pusher, read from the Markdown itself: the `boreas` command,
 * the Laravel `.env`, `config/broadcasting.php` and the pusher-js snippet must agree, and a
 * pusher-js built with the snippet's options (its port the real one) must receive what the SDK,
 * configured from the `.env`, triggers on the server the command starts.
 */

import assert from "node:assert/strict";
import Pusher from "pusher";
import PusherJsModule from "pusher-js";
import { loadConfig } from "../src/config.ts";
import { nextEvent, startPusherServer, untilState } from "./pusher_helpers.ts";

// pusher-js's Node build exports its class as the module itself; its types call it `default`.
const PusherJs = PusherJsModule as unknown as typeof PusherJsModule.default;

const DOC = await Deno.readTextFile(new URL("../docs/pusher.md", import.meta.url));

/** The fenced blocks of the section under `heading`, by their info string. */
function blocksOf(markdown: string, heading: string): Map<string, string> {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `docs/pusher.md: no heading ${heading}`);
  const level = heading.indexOf(" ");
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  const section = end === -1 ? rest : rest.slice(0, end);
  const blocks = new Map<string, string>();
  for (const [, info, body] of section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    assert.equal(blocks.has(info!), false, `two ${info} blocks under ${heading}`);
    blocks.set(info!, body!);
  }
  return blocks;
}

/** A `.env` file's variables, `${NAME}` expanded and quotes removed. */
function parseDotenv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (match === null) continue;
    const value = match[2]!.replace(/^"(.*)"$/, "$1")
      .replace(/\$\{([A-Z_]+)\}/g, (_, name) => vars.get(name) ?? "");
    vars.set(match[1]!, value);
  }
  return vars;
}

const blocks = blocksOf(DOC, "### From Pusher");
const env = parseDotenv(blocks.get("dotenv") ?? "");
const need = (name: string) => {
  const value = env.get(name);
  assert.notEqual(value, undefined, `.env: no ${name}`);
  return value!;
};

Deno.test("docs/pusher.md migration: the command, .env and broadcasting.php agree", () => {
  const command = (blocks.get("sh") ?? "").trim();
  assert.match(command, /^boreas /);
  const config = loadConfig(command.split(/\s+/).slice(1), {});
  const [app] = config.pusherApps;
  assert.deepEqual(
    [app?.id, app?.key, app?.secret],
    [need("PUSHER_APP_ID"), need("PUSHER_APP_KEY"), need("PUSHER_APP_SECRET")],
  );
  assert.equal(config.wsPort, Number(need("PUSHER_PORT")));
  assert.equal(need("PUSHER_SCHEME"), "http");
  // The front end's copies (Vite's) are the backend's values.
  for (const name of ["APP_KEY", "HOST", "PORT", "SCHEME", "APP_CLUSTER"]) {
    assert.equal(env.get(`VITE_PUSHER_${name}`), need(`PUSHER_${name}`), `VITE_PUSHER_${name}`);
  }
  // Every env() broadcasting.php reads is in the .env, and it reads the ones that matter.
  const php = blocks.get("php") ?? "";
  const read = [...php.matchAll(/env\('([A-Z_]+)'/g)].map(([, name]) => name!);
  for (const name of read) need(name);
  for (const name of ["PUSHER_APP_ID", "PUSHER_APP_KEY", "PUSHER_APP_SECRET", "PUSHER_HOST"]) {
    assert.ok(read.includes(name), `broadcasting.php reads ${name}`);
  }
  assert.ok(read.includes("PUSHER_PORT") && read.includes("PUSHER_SCHEME"));
});

Deno.test("docs/pusher.md migration: the pusher-js snippet receives what the .env's SDK triggers", async () => {
  const snippet = /new Pusher\(([\s\S]*)\);/.exec(blocks.get("js") ?? "")?.[1];
  assert.notEqual(snippet, undefined, "no new Pusher(...) in the js block");
  const [key, options] = new Function(`return [${snippet}];`)() as [
    string,
    Record<string, unknown>,
  ];
  assert.equal(key, need("PUSHER_APP_KEY"));
  assert.equal(options.wsHost, need("PUSHER_HOST"));
  assert.equal(options.wsPort, Number(need("PUSHER_PORT")));
  assert.equal(options.cluster, need("PUSHER_APP_CLUSTER"));
  assert.equal(options.forceTLS, need("PUSHER_SCHEME") === "https");

  const command = (blocks.get("sh") ?? "").trim();
  const { pusherApps } = loadConfig(command.split(/\s+/).slice(1), {});
  await using server = await startPusherServer(pusherApps);
  const port = server.wsAddr.port;
  // The backend, as Laravel configures the SDK from the .env (its port the real one).
  const sdk = new Pusher({
    appId: need("PUSHER_APP_ID"),
    key: need("PUSHER_APP_KEY"),
    secret: need("PUSHER_APP_SECRET"),
    host: need("PUSHER_HOST"),
    port: String(port),
    useTLS: need("PUSHER_SCHEME") === "https",
  });
  const client = new PusherJs(
    key,
    {
      ...options,
      wsPort: port,
      disableStats: true,
      // No Laravel here to answer /broadcasting/auth: the SDK signs as it would.
      channelAuthorization: {
        endpoint: String((options.channelAuthorization as { endpoint: string }).endpoint),
        transport: "ajax",
        customHandler: (
          { socketId, channelName }: { socketId: string; channelName: string },
          callback: (error: Error | null, data: { auth: string }) => void,
        ) => callback(null, sdk.authorizeChannel(socketId, channelName)),
      },
    } as unknown as ConstructorParameters<typeof PusherJs>[1],
  );
  try {
    await untilState(client, "connected");
    const channel = client.subscribe("private-orders.1");
    await nextEvent(channel, "pusher:subscription_succeeded");
    const shipped = nextEvent(channel, "shipped");
    const response = await sdk.trigger("private-orders.1", "shipped", { id: 1 });
    await response.text();
    assert.deepEqual(await shipped, { id: 1 });
  } finally {
    const disconnected = untilState(client, "disconnected");
    client.disconnect();
    await disconnected;
  }
});
