/**
 * @module
 * Waiting with a bound: the one place that races work against a timer.
 */

/** Resolves true when `work` settles within `ms` milliseconds, false otherwise; the timer is
 * cleared either way. A rejection of `work` counts as settling. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
