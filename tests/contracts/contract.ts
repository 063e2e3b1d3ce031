/**
 * @module
 * What every contract suite shares, in the form of hono's `runTest({ newRouter, skip })`: a
 * factory of nodes, a list of case titles to skip with the reason, and the runner that makes
 * each case a step of the caller's test, so that a backend's servers (a redis-server, a Sentinel
 * deployment) start once per test file rather than once per case. Also the plain-object
 * subscriber the cases drive the hub with.
 */

import type { Backend, BackendConfig } from "../../src/backend/backend.ts";
import type { Hub, Subscriber } from "../../src/hub.ts";
import type { Metrics } from "../../src/metrics.ts";
import type { EventSink } from "../../src/webhooks/events.ts";
import { withTimeout } from "../helpers.ts";

/** The options a case may give the nodes it makes; the rest are the defaults. */
export type NodeConfig = Partial<
  Pick<
    BackendConfig,
    | "historySize"
    | "historyTtl"
    | "historyMaxBytes"
    | "joinLeave"
    | "leaveDelay"
    | "maxMembersListed"
    | "webhookVacateDelay"
  >
>;

/** What a case asks of the node it makes. */
export interface NodeOptions {
  readonly config?: NodeConfig;
  /** Where `channel.occupied` and `channel.vacated` go; none by default (no occupancy). */
  readonly events?: EventSink;
  /** A node of the cluster to join: the new node, with a hub of its own, shares its state
   * (and its configuration, which `config` then changes). A backend that cannot have a
   * second node (memory) throws, and skips the cases that ask for one. */
  readonly peerOf?: ContractNode;
}

/** One node: its backend over its own hub, ready (connected, registered). Disposing it
 * closes the backend. */
export interface ContractNode extends AsyncDisposable {
  readonly backend: Backend;
  readonly hub: Hub;
  readonly metrics: Metrics;
}

/** Makes a node of a new cluster that shares nothing with any other case's, or a node of the
 * cluster of `peerOf`. */
export type NewBackend = (options?: NodeOptions) => Promise<ContractNode>;

/** Cases a backend does not run, and why. */
export interface SkipEntry {
  readonly reason: string;
  /** Case titles, as the suites name them. */
  readonly cases: readonly string[];
}

/** How a suite is run against one backend. */
export interface ContractOptions {
  /** The backend, as the steps name it: `memory`, `redis`, `sentinel`. */
  readonly name: string;
  readonly newBackend: NewBackend;
  readonly skip?: readonly SkipEntry[];
}

/** One case: it makes the nodes it needs with `newBackend` and disposes them. */
export type ContractCase = (newBackend: NewBackend) => Promise<void>;

/** The contract of one interface: its cases by title. */
export interface ContractSuite {
  /** The interface, e.g. `TokenRegistry`. */
  readonly title: string;
  readonly cases: Readonly<Record<string, ContractCase>>;
}

/** The reason the cases that need two nodes give on a backend that has one. */
export const ONE_NODE_REASON = "one process is the whole cluster: there is no second node";

/** Runs `suite` as a step of `t`, each case a step of its own; a skipped case is shown as
 * ignored, with its reason in its name. */
export async function runSuite(
  t: Deno.TestContext,
  suite: ContractSuite,
  { name, newBackend, skip = [] }: ContractOptions,
): Promise<void> {
  await t.step(`${suite.title} (${name})`, async (t) => {
    for (const [title, run] of Object.entries(suite.cases)) {
      const reason = skip.find((entry) => entry.cases.includes(title))?.reason;
      if (reason !== undefined) {
        await t.step({ name: `${title} [skipped: ${reason}]`, ignore: true, fn: () => {} });
        continue;
      }
      await t.step(title, () => run(newBackend));
    }
  });
}

/** A subscriber that keeps its frames and how it was closed, and can wait for either. */
export class FrameSink implements Subscriber {
  readonly frames: string[] = [];
  closedWith: { code: number; reason: string } | null = null;
  readonly #waiters = new Set<() => void>();

  send(frame: string): boolean {
    this.frames.push(frame);
    this.#wake();
    return true;
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    this.#wake();
  }

  /** Resolves once `count` frames have arrived. */
  async untilFrames(count: number): Promise<void> {
    while (this.frames.length < count) await this.#next(`${count} frames`);
  }

  /** Resolves once the sink has been closed. */
  async untilClosed(): Promise<void> {
    while (this.closedWith === null) await this.#next("the sink to be closed");
  }

  /** The frames, parsed. */
  parsed(): unknown[] {
    return this.frames.map((frame) => JSON.parse(frame));
  }

  #next(what: string): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.add(resolve);
    return withTimeout(promise, what).finally(() => this.#waiters.delete(resolve));
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }
}

/** Who a connection is: its token (anonymous without), its token's user, its channels. */
export interface Connection {
  readonly token?: string;
  readonly user?: string;
  readonly channels?: readonly string[];
}

/** Opens a connection on `hub` as `connection` says; returns its sink. */
export function connect(hub: Hub, { token, user, channels = [] }: Connection = {}): FrameSink {
  const sink = new FrameSink();
  hub.add(sink);
  if (token !== undefined) hub.authenticate(sink, token, user ?? null);
  if (channels.length > 0) hub.updateChannels(sink, channels, []);
  return sink;
}
