/**
 * @module
 * The memory backend: a standalone server, whose hub, token store and history are the whole
 * server.
 */

import type { Backend, BackendConfig, BackendDeps, BackendParts } from "./backend.ts";
import { unavailableReason } from "./errors.ts";
import { MemoryBroker } from "./memory_broker.ts";
import { MemoryEventCache } from "./memory_event_cache.ts";
import { MemoryHistory } from "./memory_history.ts";
import { MemoryMembers } from "./memory_members.ts";
import { MemoryMembership } from "./memory_membership.ts";
import { MemoryOccupancy } from "./memory_occupancy.ts";
import { MemoryTokens } from "./memory_tokens.ts";
import { MemoryUsers } from "./memory_users.ts";
import type { Members } from "./members.ts";

/** A standalone server's backend. */
export function memoryBackend(
  config: BackendConfig,
  deps: BackendDeps,
  { nodeId, membersOptions }: BackendParts,
): Backend {
  const { hub, metrics } = deps;
  const isJoinLeaveOn = config.joinLeave.length > 0;
  const tokens = new MemoryTokens(deps.tokens, deps.journal, deps.grants);
  const delayMs = config.webhookVacateDelay * 1000;
  const occupancy = deps.events === undefined
    ? undefined
    : new MemoryOccupancy(hub, deps.events, { delayMs });
  const history = config.historySize === 0 ? null : new MemoryHistory({
    size: config.historySize,
    ttlMs: config.historyTtl * 1000,
    maxBytes: config.historyMaxBytes,
    hasSubscribers: (channel) => hub.memberCount(channel) > 0,
  });
  // A channel's last subscriber left: its epoch goes too, unless it keeps messages.
  const stopReleasing = history === null ? () => {} : hub.onChange(({ channels }) => {
    for (const channel of channels) history.release(channel);
  });
  const members = isJoinLeaveOn
    ? new MemoryMembers(hub, { metrics, options: membersOptions })
    : null;
  const added: Members[] = [];
  return {
    tokens,
    users: new MemoryUsers(hub, { journal: deps.journal, initial: deps.blocks }),
    broker: new MemoryBroker(hub, metrics, history),
    membership: new MemoryMembership(hub, { metrics, nodeId }),
    history,
    members,
    addMembers: (_kind, options) => {
      const more = new MemoryMembers(hub, { metrics, options });
      added.push(more);
      return more;
    },
    cache: new MemoryEventCache(),
    nodeId,
    problems: () => [],
    unavailableReason: unavailableReason("memory"),
    startLeaving: () => {},
    close: async () => {
      stopReleasing();
      history?.[Symbol.dispose]();
      occupancy?.[Symbol.dispose]();
      await members?.close();
      for (const more of added) await more.close();
    },
  };
}
