/**
 * @module
 * A real local publish hook backend for tests: it checks every request's signature, keeps what
 * it was asked, and answers as the test says, maybe never (until disposed).
 */

import { SIGNATURE_HEADER, verifyBody } from "../src/hooks/signature.ts";
import { withTimeout } from "./helpers.ts";

/** One request the backend received. */
export interface HookRequest {
  /** The body, parsed. */
  readonly body: Record<string, unknown>;
  /** Whether its signature checked out against the backend's secret. */
  readonly isSigned: boolean;
}

/** How the backend answers a request (a signed one: a badly signed one gets 401). */
export type HookAnswer = (request: HookRequest) => Response | Promise<Response>;

/** The backend and what it saw. */
export interface HookBackend extends AsyncDisposable {
  readonly url: string;
  readonly requests: HookRequest[];
  /** The answer to the next requests; settable. Default: `{}`, deliver as sent. */
  answer: HookAnswer;
  /** An answer that never comes, until the backend is disposed. */
  readonly never: HookAnswer;
  /** Resolves once `count` requests have come (at most `WAIT_MS` from now). */
  untilRequests(count: number): Promise<void>;
}

/** Starts a backend on a free loopback port, checking signatures made with `secret`. */
export function startHookBackend(secret: string): HookBackend {
  const requests: HookRequest[] = [];
  const hung: Array<() => void> = [];
  let onChange = () => {};
  const until = (check: () => boolean, what: string) =>
    withTimeout(
      new Promise<void>((resolve) => {
        onChange = () => check() && resolve();
        onChange();
      }),
      what,
    );
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const text = await request.text();
    const header = request.headers.get(SIGNATURE_HEADER) ?? "";
    const received = {
      body: JSON.parse(text),
      isSigned: verifyBody(secret, { body: text, header }),
    };
    requests.push(received);
    onChange();
    if (!received.isSigned) return Response.json({ error: "bad signature" }, { status: 401 });
    return await backend.answer(received);
  });
  const backend: HookBackend = {
    url: `http://127.0.0.1:${server.addr.port}/publish`,
    requests,
    answer: () => Response.json({}),
    never: () =>
      new Promise<Response>((resolve) =>
        hung.push(() => resolve(new Response(null, { status: 503 })))
      ),
    untilRequests: (count) =>
      until(() => requests.length >= count, `${count} requests to the publish hook`),
    async [Symbol.asyncDispose]() {
      for (const resolve of hung) resolve();
      await server.shutdown();
    },
  };
  return backend;
}

/** An http URL on a loopback port nothing listens on, with `userinfo` (`user:pass@`) if any. */
export function closedPortUrl(userinfo = ""): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `http://${userinfo}127.0.0.1:${port}/publish`;
}

/** A backend that takes one connection, reads its request and never answers: `url` is where it
 * listens, `asked` resolves once a request has come, `hungUp` once the caller has closed the
 * connection. */
export function silentBackend(): {
  url: string;
  asked: Promise<void>;
  hungUp: Promise<void>;
} & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connection: Deno.Conn | undefined;
  const asked = Promise.withResolvers<void>();
  const hungUp = (async () => {
    connection = await listener.accept();
    const buffer = new Uint8Array(4096);
    try {
      while (await connection.read(buffer) !== null) asked.resolve();
    } catch {
      // A reset is a hang-up too.
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}/publish`,
    asked: asked.promise,
    hungUp,
    [Symbol.asyncDispose]() {
      connection?.close();
      listener.close();
      return Promise.resolve();
    },
  };
}
