/**
 * @module
 * Reads processes' CPU time and resident memory from Linux's `/proc`, the only place the
 * benchmark takes them from. Deno lets only `--allow-all` programs read `/proc/PID/*`, so the
 * files are read by `cat` (`--allow-run=cat` is enough): one `cat` for several processes reads
 * them all at one moment.
 */

/** Clock ticks a second in `/proc/PID/stat` (`getconf CLK_TCK`): 100 on every Linux the
 * benchmark is meant for. */
export const CLOCK_TICKS_PER_SECOND = 100;

async function cat(paths: readonly string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("cat", {
    args: [...paths],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`cat ${paths.join(" ")}: ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout);
}

/** User plus system CPU time each of `pids` has used so far, over all its threads, in
 * seconds (fields 14 and 15 of `/proc/PID/stat`, 10 ms resolution), in the order given. */
export async function cpuSeconds(pids: readonly number[]): Promise<number[]> {
  const lines = (await cat(pids.map((pid) => `/proc/${pid}/stat`))).trim().split("\n");
  return lines.map(statCpuSeconds);
}

/** User plus system CPU time in one `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) line, in
 * seconds. */
export function statCpuSeconds(stat: string): number {
  // The command name (field 2) may hold spaces: count the fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** The resident set size of `pid` now, in bytes (`VmRSS` of `/proc/PID/status`). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await cat([`/proc/${pid}/status`]);
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status: no VmRSS line`);
  return Number(match[1]) * 1024;
}

/** The CPU model named by the first `model name` line of `/proc/cpuinfo`, or `unknown`. */
export async function cpuModel(): Promise<string> {
  const match = /^model name\s*:\s*(.+)$/m.exec(await cat(["/proc/cpuinfo"]));
  return match?.[1]?.trim() ?? "unknown";
}
