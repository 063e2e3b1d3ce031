/**
 * @module
 * A Sentinel deployment of the test's own: a master, one replica and three sentinels, on free
 * loopback ports, in a temporary directory, with `down-after-milliseconds` 1000. Each server
 * can be killed and started again on its port with its configuration file (as the sentinels
 * rewrote it). Never the machine's Redis.
 */

import type { Config } from "../src/config.ts";
import type { Logger } from "../src/log.ts";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";
import { until, untilHealthy } from "./cluster_helpers.ts";
import { freePort } from "./redis_server.ts";

/** The name the sentinels monitor the master under. */
export const MASTER_NAME = "boreas";

/** How long a server may take to start or stop, in milliseconds. */
const START_MS = 5_000;

/** How long the sentinels may take to find each other and the replica, in milliseconds. */
const DISCOVERY_MS = 10_000;

/** One redis-server or redis-sentinel, on its port. */
export interface TopologyServer {
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Stops it with SIGKILL (no goodbye, no save) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port, with its configuration file as it is now. */
  start(): Promise<void>;
  /** Runs one `redis-cli` command against it; returns its output lines. */
  cli(...args: string[]): Promise<string[]>;
}

/** Options of `startSentinelTopology`. */
export interface TopologyOptions {
  /** The password of the master and the replica (`requirepass`, `masterauth`); none by
   * default. */
  readonly password?: string;
  /** The password of the sentinels (`requirepass`, `sentinel sentinel-pass`). */
  readonly sentinelPassword?: string;
}

/** A running Sentinel deployment. */
export interface SentinelTopology extends AsyncDisposable {
  /** The master it started with, then the replica. */
  readonly servers: readonly [TopologyServer, TopologyServer];
  readonly sentinels: readonly TopologyServer[];
  /** The sentinels' addresses, for `--redis-sentinel`. */
  readonly sentinelAddresses: readonly string[];
}

/** Starts a master, its replica and three sentinels, and waits until every sentinel knows
 * the replica and the two other sentinels (so that a failover can happen). */
export async function startSentinelTopology(
  options: TopologyOptions = {},
): Promise<SentinelTopology> {
  const { password = null, sentinelPassword = null } = options;
  const dir = await Deno.makeTempDir({ prefix: "boreas_sentinel_" });
  const started: TopologyServer[] = [];
  const data = (port: number, masterPort: number | null) =>
    startServer("redis-server", dir, dataConfig(port, dir, { masterPort, password }), password);
  try {
    const masterPort = freePort();
    const master = await data(masterPort, null);
    started.push(master);
    const replica = await data(freePort(), masterPort);
    started.push(replica);
    await until(
      async () => (await replica.cli("ROLE"))[3] === "connected",
      "the replica to be in sync",
      START_MS,
    );
    const sentinels: TopologyServer[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startServer(
        "redis-sentinel",
        dir,
        sentinelConfig(freePort(), dir, { masterPort, password, sentinelPassword }),
        sentinelPassword,
      );
      started.push(sentinel);
      sentinels.push(sentinel);
      // Test speed only: INFO every 500 ms instead of 10 s, so that a master that comes back
      // is turned into a replica in about a second rather than ten to twenty.
      await sentinel.cli("SENTINEL", "DEBUG", "info-period", "500", "publish-period", "250");
    }
    await until(
      async () => {
        const views = await Promise.all(
          sentinels.map((s) => s.cli("SENTINEL", "MASTER", MASTER_NAME)),
        );
        return views.every((lines) => {
          const fields = fieldsOf(lines);
          return fields["num-slaves"] === "1" && fields["num-other-sentinels"] === "2";
        });
      },
      "the sentinels to know the replica and each other",
      DISCOVERY_MS,
    );
    return {
      servers: [master, replica],
      sentinels,
      sentinelAddresses: sentinels.map((sentinel) => sentinel.address),
      async [Symbol.asyncDispose]() {
        await stopAll(started, dir);
      },
    };
  } catch (error) {
    await stopAll(started, dir);
    throw error;
  }
}

/** Starts a node that finds its Redis through the sentinels of `topology`. */
export async function startSentinelNode(
  topology: SentinelTopology,
  nodeId: string,
  { logger, ...overrides }: Partial<Config> & { logger?: Logger } = {},
): Promise<TestServer> {
  const server = await startTestServer({
    redisSentinel: topology.sentinelAddresses,
    redisSentinelMaster: MASTER_NAME,
    nodeId,
    ...overrides,
  }, logger === undefined ? {} : { logger });
  try {
    await untilHealthy(server);
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  return server;
}

/** The fields of a flat `key value key value ...` reply, as redis-cli prints it. */
export function fieldsOf(lines: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) fields[lines[i]!] = lines[i + 1]!;
  return fields;
}

function dataConfig(
  port: number,
  dir: string,
  { masterPort, password }: { masterPort: number | null; password: string | null },
): string {
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    `dbfilename dump-${port}.rdb`,
    'save ""',
    "appendonly no",
    // A replica that (re)joins is sent the data at once, not after the default 5 s.
    "repl-diskless-sync-delay 0",
    'logfile ""',
    ...(masterPort === null ? [] : [`replicaof 127.0.0.1 ${masterPort}`]),
    ...(password === null ? [] : [`requirepass ${password}`, `masterauth ${password}`]),
  ].join("\n") + "\n";
}

function sentinelConfig(
  port: number,
  dir: string,
  { masterPort, password, sentinelPassword }: {
    masterPort: number;
    password: string | null;
    sentinelPassword: string | null;
  },
): string {
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    'logfile ""',
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
    `sentinel failover-timeout ${MASTER_NAME} 2000`,
    ...(password === null ? [] : [`sentinel auth-pass ${MASTER_NAME} ${password}`]),
    ...(sentinelPassword === null
      ? []
      : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
  ].join("\n") + "\n";
}

/** Writes `config` (which names the `port` and the `dir`) to a file of its own in `dir` and
 * starts `command` with it; `redis-cli` gives it `password`. */
export async function startServer(
  command: "redis-server" | "redis-sentinel",
  dir: string,
  config: string,
  password: string | null,
): Promise<TopologyServer> {
  const port = Number(/^port (\d+)$/m.exec(config)![1]);
  const file = `${dir}/${command}-${port}.conf`;
  await Deno.writeTextFile(file, config);
  let child: Deno.ChildProcess | undefined;
  const server: TopologyServer = {
    port,
    address: `127.0.0.1:${port}`,
    async kill() {
      if (child === undefined) return;
      const running = child;
      child = undefined;
      running.kill("SIGKILL");
      await withTimeout(running.status, `${command} on port ${port} to exit`, START_MS);
    },
    async start() {
      child = await spawnUntilReady(command, file, port);
    },
    async cli(...args) {
      const { stdout } = await new Deno.Command("redis-cli", {
        args: [
          "-p",
          String(port),
          ...(password === null ? [] : ["-a", password, "--no-auth-warning"]),
          ...args,
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(stdout).trim().split("\n");
    },
  };
  await server.start();
  return server;
}

/** Starts `command` on `file` and reads its log (on stdout) until it is ready; the rest of
 * the log is drained unread. */
async function spawnUntilReady(
  command: "redis-server" | "redis-sentinel",
  file: string,
  port: number,
): Promise<Deno.ChildProcess> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args: [file],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `${command} is not installed; the Sentinel and Cluster tests need it (apt-get install -y ` +
          "redis-server redis-sentinel, which tools/test_prerequisites.sh does for you)",
      );
    }
    throw error;
  }
  const ready = command === "redis-server" ? "Ready to accept connections" : "+monitor master";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    await withTimeout(
      (async () => {
        while (!seen.includes(ready)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`${command} exited on port ${port}: ${seen}`);
          seen += value;
        }
      })(),
      `${command} to start on port ${port}`,
      START_MS,
    );
  } catch (error) {
    child.kill("SIGKILL");
    await reader.cancel();
    await child.status;
    throw error;
  }
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return child;
}

async function stopAll(servers: readonly TopologyServer[], dir: string): Promise<void> {
  await Promise.all(servers.map((server) => server.kill()));
  await Deno.remove(dir, { recursive: true });
}
