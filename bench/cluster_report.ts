/**
 * @module
 * Collects each run's cluster and standalone figures and renders them as a Markdown table:
 * medians over the runs, and the median (and range) of the per-run ratios cluster /
 * standalone and differences cluster − standalone, both sides measured seconds apart in the
 * same run. Pure.
 */

import { formatNumber, median } from "./report.ts";

/** Which deployment a figure is of: two nodes on one Redis, or one standalone Boreas. */
export type Side = "cluster" | "standalone";

/** How a figure is judged. `max-ratio`: cluster / standalone at most `value` (median of the
 * per-run ratios). `max-difference`: cluster − standalone at most `value` (median of the
 * per-run differences). `max-cluster`: the cluster's figure at most `value` in every run. */
export type ClusterTarget =
  | { readonly kind: "max-ratio"; readonly value: number }
  | { readonly kind: "max-difference"; readonly value: number }
  | { readonly kind: "max-cluster"; readonly value: number };

/** One row of the cluster table. */
export interface ClusterRow {
  /** Key the figures were recorded under. */
  readonly key: string;
  readonly label: string;
  /** Decimals shown for the figures. */
  readonly digits: number;
  readonly target?: ClusterTarget;
}

/** A target's verdict, in words. */
export interface ClusterVerdict {
  readonly label: string;
  readonly isMet: boolean;
  /** E.g. `cluster / standalone = 1.12 (target ≤ 1.25)`. */
  readonly figure: string;
}

/** Per-run figures, by side and key. */
export class ClusterResults {
  readonly #values = new Map<string, Array<number | undefined>>();

  /** Records `value` for `side` in run `run` (0-based). */
  add(side: Side, key: string, run: number, value: number): void {
    const id = `${side}:${key}`;
    const values = this.#values.get(id) ?? [];
    values[run] = value;
    this.#values.set(id, values);
  }

  /** Every recorded value of `side`'s `key`, in run order. */
  values(side: Side, key: string): number[] {
    return defined(this.#values.get(`${side}:${key}`) ?? []);
  }

  /** `combine(cluster, standalone)` for `key` in each run that measured both. */
  perRun(key: string, combine: (cluster: number, standalone: number) => number): number[] {
    const cluster = this.#values.get(`cluster:${key}`) ?? [];
    const standalone = this.#values.get(`standalone:${key}`) ?? [];
    return defined(cluster.map((value, run) => {
      const base = standalone[run];
      return value === undefined || base === undefined ? undefined : combine(value, base);
    }));
  }

  /** The Markdown table of `rows`, and each target's verdict. */
  table(rows: readonly ClusterRow[]): { markdown: string; verdicts: ClusterVerdict[] } {
    const lines = [
      "| figure | cluster | standalone | cluster / standalone (range) | " +
      "cluster − standalone (range) | target |",
      "| --- | ---: | ---: | ---: | ---: | --- |",
    ];
    const verdicts: ClusterVerdict[] = [];
    for (const row of rows) {
      const cluster = median(this.values("cluster", row.key));
      const ratios = this.perRun(row.key, (c, s) => c / s);
      const differences = this.perRun(row.key, (c, s) => c - s);
      let target = "";
      if (row.target !== undefined) {
        const verdict = judge({ ...row, target: row.target }, {
          cluster: this.values("cluster", row.key),
          ratios,
          differences,
        });
        verdicts.push(verdict);
        target = `${describe(row.target, row.digits)}: ${
          verdict.isMet ? "**held**" : "**missed**"
        }`;
      }
      lines.push(
        `| ${row.label} | ${formatNumber(cluster, row.digits)} | ` +
          `${formatNumber(median(this.values("standalone", row.key)), row.digits)} | ` +
          `${spread(ratios, 2)} | ${spread(differences, row.digits)} | ${target} |`,
      );
    }
    return { markdown: lines.join("\n"), verdicts };
  }
}

function judge(
  row: ClusterRow & { target: ClusterTarget },
  { cluster, ratios, differences }: { cluster: number[]; ratios: number[]; differences: number[] },
): ClusterVerdict {
  const { target } = row;
  const [name, value] = target.kind === "max-ratio"
    ? ["cluster / standalone", median(ratios)]
    : target.kind === "max-difference"
    ? ["cluster − standalone", median(differences)]
    : ["cluster, largest of the runs", cluster.length === 0 ? NaN : Math.max(...cluster)];
  const digits = target.kind === "max-ratio" ? 2 : row.digits;
  return {
    label: row.label,
    isMet: value <= target.value,
    figure: `${name} = ${formatNumber(value, digits)} (target ${describe(target, row.digits)})`,
  };
}

function describe(target: ClusterTarget, digits: number): string {
  switch (target.kind) {
    case "max-ratio":
      return `≤ ${target.value.toFixed(2)} × standalone`;
    case "max-difference":
      return `≤ standalone + ${formatNumber(target.value, digits)}`;
    case "max-cluster":
      return `≤ ${formatNumber(target.value, digits)}`;
  }
}

/** The median of `values` and, for two or more, their range. */
function spread(values: readonly number[], digits: number): string {
  const middle = formatNumber(median(values), digits);
  if (values.length < 2) return middle;
  const low = formatNumber(Math.min(...values), digits);
  return `${middle} (${low}–${formatNumber(Math.max(...values), digits)})`;
}

function defined(values: ReadonlyArray<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined && !Number.isNaN(value));
}
