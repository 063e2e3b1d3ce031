/**
 * @module
 * The command-line options every fan-out benchmark script takes (`--quick`, the sizes, the
 * windows, pinning), and reading a number option with its quick and full defaults.
 */

/** The `parseArgs` options shared by `bench/main.ts` and `bench/transports.ts`. */
export const WINDOW_OPTIONS = {
  quick: { type: "boolean" },
  subscribers: { type: "string" },
  "idle-connections": { type: "string" },
  runs: { type: "string" },
  "idle-runs": { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  rate: { type: "string" },
  inflight: { type: "string" },
  "no-pin": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Reads number options from parsed `values`: the `quick` or the `full` default when absent,
 * else a number ≥ 0, or a `RangeError` naming the option. */
export function numberReader<Values extends Record<string, unknown>>(
  values: Values,
): (name: keyof Values & string, quick: number, full: number) => number {
  const isQuick = values.quick === true;
  return (name, quick, full) => {
    const raw = values[name];
    if (raw === undefined) return isQuick ? quick : full;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`--${name}: expected a number ≥ 0, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}
