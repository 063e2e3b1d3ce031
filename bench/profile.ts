// deno-lint-ignore-file no-console
/**
 * @module
 * Reads a V8 `.cpuprofile` (as `deno run --cpu-prof` writes it) and lists the functions with
 * the most self time, with their share of the busy time (all samples but `(idle)`) and their
 * total (inclusive) share. `bench/main.ts --cpu-prof DIR` uses it; it also runs on its own:
 * `deno run --allow-read bench/profile.ts FILE.cpuprofile [LIMIT]`.
 */

/** The parts of a `.cpuprofile` this module reads. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
    readonly children?: readonly number[];
  }>;
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One function's time: `self` ran in it, `total` in it or what it called. */
export interface ProfileEntry {
  /** `name (file:line)`, with repository paths made relative. */
  readonly name: string;
  readonly selfMs: number;
  /** Shares of the busy time, 0-1. */
  readonly selfShare: number;
  readonly totalShare: number;
}

/** The functions with the most self time, and how the profile's time divides. */
export interface ProfileSummary {
  readonly top: ProfileEntry[];
  /** Sampled time, in milliseconds: all of it, and all but `(idle)`. */
  readonly sampledMs: number;
  readonly busyMs: number;
}

const IDLE = "(idle)";

/** Summarizes `profile`: the `limit` functions with the most self time. */
export function summarizeProfile(profile: CpuProfile, limit = 15): ProfileSummary {
  const keyOf = new Map<number, string>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    keyOf.set(node.id, nameOf(node.callFrame));
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampledMs = 0;
  let idleMs = 0;
  profile.samples.forEach((id, i) => {
    // A sample lasts until the next one is taken.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const key = keyOf.get(id) ?? "(unknown)";
    sampledMs += ms;
    if (key === IDLE) {
      idleMs += ms;
      return;
    }
    self.set(key, (self.get(key) ?? 0) + ms);
    const onStack = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parentOf.get(node)) {
      onStack.add(keyOf.get(node) ?? "(unknown)");
    }
    for (const name of onStack) total.set(name, (total.get(name) ?? 0) + ms);
  });
  const busyMs = sampledMs - idleMs;
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, ms]) => ({
      name,
      selfMs: ms,
      selfShare: ms / busyMs,
      totalShare: (total.get(name) ?? ms) / busyMs,
    }));
  return { top, sampledMs, busyMs };
}

/** The summary as a Markdown table, with a line on idle time above it. */
export function renderProfile(summary: ProfileSummary): string {
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  const lines = [
    `Sampled ${(summary.sampledMs / 1000).toFixed(2)} s, busy (not idle) ` +
    `${(summary.busyMs / 1000).toFixed(2)} s; shares are of the busy time.`,
    "",
    "| function | self | self share | total share |",
    "| --- | ---: | ---: | ---: |",
    ...summary.top.map((entry) =>
      `| ${entry.name} | ${entry.selfMs.toFixed(0)} ms | ${percent(entry.selfShare)} | ` +
      `${percent(entry.totalShare)} |`
    ),
  ];
  return lines.join("\n");
}

function nameOf(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  const root = new URL("..", import.meta.url).href;
  const file = frame.url.startsWith(root) ? frame.url.slice(root.length) : frame.url;
  return `${name} (${file}:${frame.lineNumber + 1})`;
}

if (import.meta.main) {
  const [path, limit = "15"] = Deno.args;
  if (path === undefined) {
    console.error("usage: deno run --allow-read bench/profile.ts FILE.cpuprofile [LIMIT]");
    Deno.exit(2);
  }
  const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  console.log(renderProfile(summarizeProfile(profile, Number(limit))));
}

/** The path of the `.cpuprofile` file written last under `dir`; throws when there is none. */
export async function newestProfile(dir: string): Promise<string> {
  let newest: { path: string; time: number } | undefined;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${entry.name}`;
    const time = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (newest === undefined || time > newest.time) newest = { path, time };
  }
  if (newest === undefined) throw new Error(`${dir}: no .cpuprofile file`);
  return newest.path;
}
