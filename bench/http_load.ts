/**
 * @module
 * Requests per second a server answers on `POST /broadcast/{channel}/` over keep-alive
 * connections: measured with `wrk -t1 -c50` (and `bench/post.lua`) pinned to the load
 * generator's core after a one-second warm-up load, or, when `wrk` is not installed, with the
 * load generator's own fetch loops (a weaker client: its figure is a lower bound).
 */

import { type HttpResult } from "./ipc.ts";
import { hasCommand, type LoadProcess, placed, type Placement } from "./processes.ts";

/** Keep-alive connections the load keeps open. */
export const HTTP_CONNECTIONS = 50;

const WARMUP_SECONDS = 1;
const POST_LUA = new URL("post.lua", import.meta.url).pathname;
const BODY = '{"dryrun": false, "payload": {"t":123456.789,"p":"' + "x".repeat(78) + '"}}';

/** What one HTTP load measured, and with which tool. */
export interface HttpFigure {
  readonly requestsPerSecond: number;
  readonly tool: string;
}

/** Loads `url` for `seconds` and returns the requests answered 200 per second. Throws when
 * any request got another answer. */
export async function httpRequestsPerSecond(
  { url, seconds, placement, load }: {
    url: string;
    seconds: number;
    placement: Placement;
    load: LoadProcess;
  },
): Promise<HttpFigure> {
  if (!await hasCommand("wrk")) {
    const result = await load.send({
      op: "http",
      url,
      body: BODY,
      connections: HTTP_CONNECTIONS,
      durationMs: seconds * 1000,
    }) as HttpResult;
    if (result.failed > 0) throw new Error(`POST ${url}: ${result.failed} requests failed`);
    return { requestsPerSecond: result.requests / result.seconds, tool: "Deno fetch loops" };
  }
  // A first, shorter load warms the server's JIT up; only the second one counts.
  await wrk(url, WARMUP_SECONDS, placement);
  const tool = `wrk -t1 -c${HTTP_CONNECTIONS} -d${seconds}s`;
  const { success, stdout, stderr } = await wrk(url, seconds, placement);
  const text = new TextDecoder().decode(stdout);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!success || rate === null) {
    throw new Error(`${tool} failed: ${text}${new TextDecoder().decode(stderr)}`);
  }
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (bad !== null) throw new Error(`${tool} ${url}: ${bad[0]}`);
  const socketErrors = /Socket errors: (.*)/.exec(text);
  return {
    requestsPerSecond: Number(rate[1]),
    tool: socketErrors === null ? tool : `${tool}; socket errors: ${socketErrors[1]}`,
  };
}

function wrk(url: string, seconds: number, placement: Placement): Promise<Deno.CommandOutput> {
  const [command, ...args] = placed(
    ["wrk", "-t1", `-c${HTTP_CONNECTIONS}`, `-d${seconds}s`, "-s", POST_LUA, url],
    placement,
  );
  return new Deno.Command(command!, { args, stdin: "null" }).output();
}
