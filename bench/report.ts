/**
 * @module
 * Collects each run's figures for two sides (Boreas and the baseline, or Boreas with history
 * on and off) and renders the result as a Markdown table: the median of each figure over the
 * runs, and the median (and range) of the per-run ratios subject / reference. Both sides of a
 * per-run ratio were measured seconds apart, so slow drift in the machine's load cancels; the
 * median of the ratios therefore need not equal the ratio of the medians, and the verdicts use
 * it.
 */

import type { ServerKind } from "./processes.ts";

/** How a figure is judged. `max-ratio`: subject / reference (Boreas / baseline) must be at
 * most `value`. `min-boreas`: the subject's median must be at least `value`. */
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

/** The two sides a table compares: the keys their figures are recorded under, and their
 * column headings. */
export interface Columns<Side extends string> {
  /** The side judged: ratios are `subject / reference`. */
  readonly subject: Side;
  readonly reference: Side;
  readonly labels: Readonly<Record<Side, string>>;
}

/** Boreas against the baseline server. */
export const SERVER_COLUMNS: Columns<ServerKind> = {
  subject: "boreas",
  reference: "baseline",
  labels: { boreas: "Boreas", baseline: "baseline" },
};

/** Per-run figures, by side and key. */
export class Results<Side extends string = ServerKind> {
  readonly columns: Columns<Side>;
  readonly #values = new Map<string, Array<number | undefined>>();
  /** Keys whose figure is a lower bound in some run (the load generator used its core). */
  readonly #bounded = new Map<string, number>();

  constructor(columns: Columns<Side>) {
    this.columns = columns;
  }

  /** Records `value` for `kind` in run `run` (0-based). */
  add(kind: Side, key: string, run: number, value: number): void {
    const id = `${kind}:${key}`;
    const values = this.#values.get(id) ?? [];
    values[run] = value;
    this.#values.set(id, values);
  }

  /** Marks `kind`'s `key` in one run as limited by the load generator. */
  markBounded(kind: Side, key: string): void {
    const id = `${kind}:${key}`;
    this.#bounded.set(id, (this.#bounded.get(id) ?? 0) + 1);
  }

  /** Every recorded value of `kind`'s `key`, in run order. */
  values(kind: Side, key: string): number[] {
    return defined(this.#values.get(`${kind}:${key}`) ?? []);
  }

  /** The median of `kind`'s `key` over the runs; NaN when never recorded. */
  median(kind: Side, key: string): number {
    return median(this.values(kind, key));
  }

  /** Subject / reference for `key` in each run that measured both. */
  ratios(key: string): number[] {
    return this.perRun(key, (subject, reference) => subject / reference);
  }

  /** `combine(subject, reference)` for `key` in each run that measured both. */
  perRun(key: string, combine: (subject: number, reference: number) => number): number[] {
    const subject = this.#values.get(`${this.columns.subject}:${key}`) ?? [];
    const reference = this.#values.get(`${this.columns.reference}:${key}`) ?? [];
    return defined(subject.map((value, run) => {
      const base = reference[run];
      return value === undefined || base === undefined ? undefined : combine(value, base);
    }));
  }

  /** How many runs marked `kind`'s `key` as a lower bound. */
  boundedRuns(kind: Side, key: string): number {
    return this.#bounded.get(`${kind}:${key}`) ?? 0;
  }

  /** The Markdown table of `rows`, and each target's verdict. */
  table(rows: readonly RowSpec[]): { markdown: string; verdicts: Verdict[] } {
    const { subject, reference, labels } = this.columns;
    const lines = [
      `| figure | ${labels[subject]} | ${labels[reference]} | ` +
      `${labels[subject]} / ${labels[reference]} (range) | target |`,
      "| --- | ---: | ---: | ---: | --- |",
    ];
    const verdicts: Verdict[] = [];
    for (const row of rows) {
      const boreas = this.median(subject, row.key);
      const baseline = this.median(reference, row.key);
      const ratios = this.ratios(row.key);
      const ratio = median(ratios);
      const spread = ratios.length < 2
        ? ""
        : ` (${formatNumber(Math.min(...ratios), 2)}–${formatNumber(Math.max(...ratios), 2)})`;
      const cell = (kind: Side, value: number) =>
        formatNumber(value, row.digits) + (this.boundedRuns(kind, row.key) > 0 ? " *" : "");
      let target = "";
      if (row.target !== undefined) {
        const isMet = row.target.kind === "max-ratio"
          ? ratio <= row.target.value
          : boreas >= row.target.value;
        verdicts.push({ label: row.label, target: row.target, isMet, ratio, boreas });
        const described = describeTarget(row.target, {
          digits: row.digits,
          reference: labels[reference],
        });
        target = `${described}: ${isMet ? "**held**" : "**missed**"}`;
      }
      lines.push(
        `| ${row.label} | ${cell(subject, boreas)} | ${cell(reference, baseline)} | ` +
          `${formatNumber(ratio, 2)}${spread} | ${target} |`,
      );
    }
    return { markdown: lines.join("\n"), verdicts };
  }
}

/** The target in words, e.g. `≤ 1.15 × baseline`; `digits` (default 0) for `min-boreas`. */
export function describeTarget(
  target: Target,
  { digits = 0, reference = "baseline" }: { digits?: number; reference?: string } = {},
): string {
  return target.kind === "max-ratio"
    ? `≤ ${target.value.toFixed(2)} × ${reference}`
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
