/**
 * @module
 * Collects each run's figures for Boreas and the baseline and renders the result as a
 * Markdown table: the median of each figure over the runs, and the median (and range) of the
 * per-run ratios Boreas / baseline. Both sides of a per-run ratio were measured seconds apart,
 * so slow drift in the machine's load cancels; the median of the ratios therefore need not
 * equal the ratio of the medians, and the verdicts use it.
 */

import type { ServerKind } from "./processes.ts";

/** How a figure is judged. `max-ratio`: Boreas / baseline must be at most `value`.
 * `min-boreas`: Boreas's median must be at least `value`. */
export type Target =
  | { readonly kind: "max-ratio"; readonly value: number }
  | { readonly kind: "min-boreas"; readonly value: number };

/** One row of the table. */
export interface RowSpec {
  /** Key the figures were recorded under. */
  readonly key: string;
  readonly label: string;
  /** Decimals shown for the figures. */
  readonly digits: number;
  readonly target?: Target;
}

/** A row's verdict: whether its target held (null when it has none). */
export interface Verdict {
  readonly label: string;
  readonly target: Target;
  readonly isMet: boolean;
  readonly ratio: number;
  readonly boreas: number;
}

/** Per-run figures, by server and key. */
export class Results {
  readonly #values = new Map<string, Array<number | undefined>>();
  /** Keys whose figure is a lower bound in some run (the load generator used its core). */
  readonly #bounded = new Map<string, number>();

  /** Records `value` for `kind` in run `run` (0-based). */
  add(kind: ServerKind, key: string, run: number, value: number): void {
    const id = `${kind}:${key}`;
    const values = this.#values.get(id) ?? [];
    values[run] = value;
    this.#values.set(id, values);
  }

  /** Marks `kind`'s `key` in one run as limited by the load generator. */
  markBounded(kind: ServerKind, key: string): void {
    const id = `${kind}:${key}`;
    this.#bounded.set(id, (this.#bounded.get(id) ?? 0) + 1);
  }

  /** The median of `kind`'s `key` over the runs; NaN when never recorded. */
  median(kind: ServerKind, key: string): number {
    return median(defined(this.#values.get(`${kind}:${key}`) ?? []));
  }

  /** Boreas / baseline for `key` in each run that measured both. */
  ratios(key: string): number[] {
    const boreas = this.#values.get(`boreas:${key}`) ?? [];
    const baseline = this.#values.get(`baseline:${key}`) ?? [];
    return defined(boreas.map((value, run) => {
      const base = baseline[run];
      return value === undefined || base === undefined ? undefined : value / base;
    }));
  }

  /** How many runs marked `kind`'s `key` as a lower bound. */
  boundedRuns(kind: ServerKind, key: string): number {
    return this.#bounded.get(`${kind}:${key}`) ?? 0;
  }

  /** The Markdown table of `rows`, and each target's verdict. */
  table(rows: readonly RowSpec[]): { markdown: string; verdicts: Verdict[] } {
    const lines = [
      "| figure | Boreas | baseline | Boreas / baseline (range) | target |",
      "| --- | ---: | ---: | ---: | --- |",
    ];
    const verdicts: Verdict[] = [];
    for (const row of rows) {
      const boreas = this.median("boreas", row.key);
      const baseline = this.median("baseline", row.key);
      const ratios = this.ratios(row.key);
      const ratio = median(ratios);
      const spread = ratios.length < 2
        ? ""
        : ` (${formatNumber(Math.min(...ratios), 2)}–${formatNumber(Math.max(...ratios), 2)})`;
      const cell = (kind: ServerKind, value: number) =>
        formatNumber(value, row.digits) + (this.boundedRuns(kind, row.key) > 0 ? " *" : "");
      let target = "";
      if (row.target !== undefined) {
        const isMet = row.target.kind === "max-ratio"
          ? ratio <= row.target.value
          : boreas >= row.target.value;
        verdicts.push({ label: row.label, target: row.target, isMet, ratio, boreas });
        target = `${describeTarget(row.target, row.digits)}: ${isMet ? "**held**" : "**missed**"}`;
      }
      lines.push(
        `| ${row.label} | ${cell("boreas", boreas)} | ${cell("baseline", baseline)} | ` +
          `${formatNumber(ratio, 2)}${spread} | ${target} |`,
      );
    }
    return { markdown: lines.join("\n"), verdicts };
  }
}

/** The target in words, e.g. `≤ 1.15 × baseline`. */
export function describeTarget(target: Target, digits = 0): string {
  return target.kind === "max-ratio"
    ? `≤ ${target.value.toFixed(2)} × baseline`
    : `≥ ${formatNumber(target.value, digits)}`;
}

/** The median of `values`; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `value` with `digits` decimals and thousands separators; `n/a` when not a number. */
export function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function defined(values: ReadonlyArray<number | undefined>): number[] {
  return values.filter((value): value is number => value !== undefined && !Number.isNaN(value));
}
