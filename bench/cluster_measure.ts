/**
 * @module
 * The cluster part of `deno task bench` (`--only cluster`, `--cluster-only`): runs the cluster
 * scenarios of `cluster.ts` `runs` times and renders their table, the targets' verdicts and a
 * note on how each figure was taken, as Markdown lines for the report.
 */

import {
  CHURN_CONNECTIONS,
  type ClusterOptions,
  clusterRows,
  clusterRun,
  ROOMS,
} from "./cluster.ts";
import { ClusterResults } from "./cluster_report.ts";
import { hasCommand } from "./processes.ts";

/** Runs the cluster scenarios and resolves to the report's lines; to a single line saying why
 * when `redis-server` is not installed. */
export async function measureCluster(
  options: ClusterOptions,
  { runs, log }: { runs: number; log: (line: string) => void },
): Promise<string[]> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) {
    return ["Cluster: skipped, `redis-server` and `redis-cli` are not both installed."];
  }
  const results = new ClusterResults();
  for (let run = 0; run < runs; run++) await clusterRun(run, options, { results, log });
  const { markdown, verdicts } = results.table(clusterRows(options));
  return [
    `Cluster: two nodes (a, b) on one redis-server started by the benchmark, against one ` +
    `standalone Boreas; ${runs} runs, medians; broadcasts posted to node a. Server-side CPU is ` +
    "that of both nodes plus redis-server (standalone: its one process). " +
    `Rooms: ${ROOMS} channels × 2 subscribers, each room's pair on one node; churn: ` +
    `${CHURN_CONNECTIONS} connections on one node each moving between two channels of its own.`,
    "",
    markdown,
    "",
    "Targets:",
    ...verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: ${verdict.figure}`
    ),
  ];
}
