/**
 * @module
 * Browser fixtures: Debian's Chromium, headless, driven by `playwright-core` with a fresh
 * profile (never Playwright's own browser download), and a loopback "page origin" server that
 * serves test pages and the client bundle of `deno task build:client`. Both are disposed with
 * `await using`: declare them after the Boreas servers they talk to, so that the browser closes
 * its sockets before those servers shut down.
 */

import { type BrowserContext, chromium, type Page } from "playwright-core";
import { buildClientInto } from "./client_build.ts";
import { tempDir } from "./process_helpers.ts";

/** The Chromium the tests drive: Debian's, which `tools/test_prerequisites.sh` installs when
 * missing, or the browser `BOREAS_TEST_CHROMIUM` names (GitHub's runners have Google Chrome). */
export const CHROMIUM_PATH = Deno.env.get("BOREAS_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** How long Chromium may take to start, in milliseconds. */
export const LAUNCH_WAIT_MS = 10_000;

/** How long Playwright waits for a navigation, a selector or a `waitForFunction`, in
 * milliseconds, unless told otherwise (its own default is 30 s). `page.evaluate()` has no
 * timeout: wrap it in `withTimeout()`. */
export const PAGE_WAIT_MS = 5_000;

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running headless Chromium with its own profile. Disposing it closes every page and the
 * browser, then removes the profile. */
export interface TestBrowser extends AsyncDisposable {
  readonly context: BrowserContext;
  /** Uncaught exceptions of the pages opened with `open()`, as `url: message`, in order. */
  readonly pageErrors: readonly string[];
  /** Opens a new page at `url` (any origin: a page server's, or the API listener's) and
   * resolves once its `load` event has fired. */
  open(url: string): Promise<Page>;
}

/** Options of `launchBrowser()`. */
export interface LaunchOptions {
  /** Chromium's `--host-resolver-rules`, e.g. `MAP rebind.test 127.0.0.1` for a name that
   * resolves to this machine, as DNS rebinding makes one. Default: none. */
  readonly hostResolverRules?: string;
}

/** Launches Chromium headless in a fresh temporary profile. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<TestBrowser> {
  const { hostResolverRules } = options;
  const args = hostResolverRules === undefined
    ? CHROMIUM_ARGS
    : [...CHROMIUM_ARGS, `--host-resolver-rules=${hostResolverRules}`];
  const profile = await Deno.makeTempDir({ prefix: "boreas_chromium_" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args,
      timeout: LAUNCH_WAIT_MS,
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true });
    throw error;
  }
  context.setDefaultTimeout(PAGE_WAIT_MS);
  const pageErrors: string[] = [];
  return {
    context,
    pageErrors,
    async open(url) {
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
      await page.goto(url);
      return page;
    },
    async [Symbol.asyncDispose]() {
      try {
        await context.close();
      } finally {
        await Deno.remove(profile, { recursive: true });
      }
    },
  };
}

/** The default page of `startPageServer()`: it loads the client bundle as a module and puts
 * its two classes on `globalThis.boreas` for `page.evaluate()` to use. */
export const CLIENT_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Boreas client test page</title>
<script type="module">
  import { BoreasApi, BoreasSubscriber } from "/boreas-client.js";
  globalThis.boreas = { BoreasApi, BoreasSubscriber };
</script>
`;

/** What `startPageServer()` serves besides `/boreas-client.js`. */
export interface PageServerOptions {
  /** HTML pages by path. Default: `CLIENT_PAGE` at `/`. */
  readonly pages?: Readonly<Record<string, string>>;
}

/** A static site on 127.0.0.1, another origin than any Boreas listener's. Disposing it shuts
 * it down. */
export interface PageServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, what a page's `Origin` header says. */
  readonly origin: string;
  /** The absolute URL of `path` on this server. */
  url(path?: string): string;
}

/** Serves `pages` and the client bundle on 127.0.0.1, port 0; anything else is a 404. */
export async function startPageServer(options: PageServerOptions = {}): Promise<PageServer> {
  const { pages = { "/": CLIENT_PAGE } } = options;
  const bundle = await clientBundle();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/boreas-client.js") {
      return new Response(bundle, { headers: { "content-type": "text/javascript" } });
    }
    const page = pages[pathname];
    if (page === undefined) return new Response("not found", { status: 404 });
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    origin,
    url: (path = "/") => new URL(path, origin).href,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

// The one piece of module state: the bundle is built once per test process, and never
// changes while it runs.
let bundled: Promise<string> | undefined;

/** The source of `dist/boreas-client.js`, built with the `build:client` task's own command
 * line into a temporary directory (removed at once) the first time it is asked for. */
export function clientBundle(): Promise<string> {
  if (bundled === undefined) {
    bundled = buildClientBundle();
    // A failed build is not kept: the next test tries again and reports its own failure.
    bundled.catch(() => bundled = undefined);
  }
  return bundled;
}

async function buildClientBundle(): Promise<string> {
  await using dir = await tempDir();
  const output = `${dir.path}/boreas-client.js`;
  await buildClientInto(output);
  return await Deno.readTextFile(output);
}
