/**
 * @module
 * The chat part's report: Boreas against the baseline, then client publications against HTTP
 * broadcasts (standalone Boreas, the baseline for reference, and two cluster nodes when they
 * were measured), with the targets of docs/benchmarks.md, as Markdown lines. Pure.
 */

import { type ChatOptions, type ChatResults, chatRows, MEMBERS } from "./chat.ts";
import { CLUSTER_PROCESSES } from "./chat_cluster.ts";
import { formatNumber, type RowSpec, type Verdict } from "./report.ts";
import { SATURATED_CORE_SHARE } from "./scenarios.ts";

/** The HTTP broadcasts' target: Boreas / baseline. */
const HTTP_TARGET = { kind: "max-ratio", value: 1.15 } as const;
/** The client publications' target: client / HTTP, per delivered message. */
const CLIENT_TARGET = { kind: "max-ratio", value: 0.5 } as const;

/** The report's lines for `results` after `runs` runs of the parts measured: standalone
 * (Boreas and the baseline) and on two cluster nodes. */
export function renderChat(
  results: ChatResults,
  { options, runs, hasStandalone, hasCluster }: {
    options: ChatOptions;
    runs: number;
    hasStandalone: boolean;
    hasCluster: boolean;
  },
): string[] {
  const { rate } = options;
  const servers = results.servers.table(
    hasStandalone
      ? [
        ...chatRows("http", { rate, what: "HTTP broadcasts", target: HTTP_TARGET }),
        ...chatRows("client", { rate, what: "client publications" }),
      ]
      : [],
  );
  const vias = results.vias.table([
    ...(hasStandalone
      ? [
        ...chatRows("boreas", { rate, what: "Boreas", target: CLIENT_TARGET }),
        ...chatRows("baseline", { rate, what: "baseline" }),
      ]
      : []),
    ...(hasCluster ? clusterRows(rate) : []),
  ]);
  const ack = options.withRef ? "carry a ref and are answered" : "carry no ref (no reply)";
  return [
    `Chat rooms: ${formatNumber(options.rooms, 0)} rooms × ${MEMBERS} subscribers, each ` +
    `message to a room picked at random; ${runs} runs, medians. HTTP broadcasts: ` +
    `POST /broadcast/{room}/ over keep-alive, ${MEMBERS} frames each; client publications ` +
    `(which ${ack}): sent by a subscriber of the room over its WebSocket, ${MEMBERS - 1} ` +
    `frames each. Saturation: ${options.inflight} messages' deliveries outstanding.` +
    (hasCluster
      ? " Cluster: two nodes on one redis-server, every room with members on both; server-side " +
        "CPU is both nodes' plus redis-server's."
      : ""),
    ...(hasStandalone ? ["", servers.markdown] : []),
    "",
    vias.markdown,
    "",
    `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least one ` +
    "run: a lower bound.",
    "",
    "Targets:",
    ...verdictLines(servers.verdicts, "Boreas / baseline"),
    ...verdictLines(vias.verdicts, "client / HTTP"),
  ];
}

function clusterRows(rate: number): RowSpec[] {
  const paced = `at ${formatNumber(rate, 0)} deliveries/s`;
  const rows = chatRows("cluster", { rate, what: "two nodes", target: CLIENT_TARGET });
  const byProcess = (mode: "saturate" | "rate", where: string) =>
    CLUSTER_PROCESSES.map((name, i): RowSpec => ({
      key: `cluster.${mode}.cpu.${i}`,
      label: `of which ${name}, ${where} (µs)`,
      digits: 2,
    }));
  return [
    rows[0]!,
    ...byProcess("saturate", "at saturation"),
    rows[1]!,
    ...byProcess("rate", paced),
    ...rows.slice(2),
  ];
}

function verdictLines(verdicts: readonly Verdict[], ratio: string): string[] {
  return verdicts.map((verdict) =>
    `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: ${ratio} = ` +
    `${formatNumber(verdict.ratio, 2)} (target ≤ ${verdict.target.value.toFixed(2)})`
  );
}
