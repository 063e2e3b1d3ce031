/**
 * @module
 * Every backend contract suite, one per interface of src/backend/ (in tests/contracts/), and
 * the one call that runs them all against a backend: a factory of its nodes and a list of
 * the cases it skips, each with its reason (hono's `runTest({ newRouter, skip })`).
 * `cluster_contract_test.ts` runs them against every backend.
 */

import { brokerContract } from "./contracts/broker_contract.ts";
import type { ContractOptions, ContractSuite } from "./contracts/contract.ts";
import { runSuite } from "./contracts/contract.ts";
import { eventCacheContract } from "./contracts/event_cache_contract.ts";
import { historyContract } from "./contracts/history_contract.ts";
import { membersContract } from "./contracts/members_contract.ts";
import { membershipContract } from "./contracts/membership_contract.ts";
import { occupancyContract } from "./contracts/occupancy_contract.ts";
import { tokensContract } from "./contracts/tokens_contract.ts";
import { usersContract } from "./contracts/users_contract.ts";

export type {
  ContractNode,
  ContractOptions,
  NewBackend,
  NodeOptions,
  SkipEntry,
} from "./contracts/contract.ts";

/** Every suite, in the order they run. */
export const CONTRACTS: readonly ContractSuite[] = [
  tokensContract,
  brokerContract,
  historyContract,
  membershipContract,
  membersContract,
  usersContract,
  occupancyContract,
  eventCacheContract,
];

/** Runs every suite against one backend, each a step of `t`. Throws before running anything
 * when a skip entry names no case (a renamed case would silently run) or gives no reason,
 * or when two cases share a title (a skip would name both). */
export async function runContracts(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  const all = CONTRACTS.flatMap((suite) => Object.keys(suite.cases));
  const titles = new Set(all);
  if (titles.size !== all.length) throw new TypeError("two contract cases share a title");
  for (const { reason, cases } of options.skip ?? []) {
    if (reason.trim() === "") throw new TypeError(`${options.name}: a skip entry gives no reason`);
    const unknown = cases.filter((title) => !titles.has(title));
    if (unknown.length > 0) {
      throw new TypeError(`${options.name}: skip names no case: ${JSON.stringify(unknown)}`);
    }
  }
  for (const suite of CONTRACTS) await runSuite(t, suite, options);
}
