/**
 * @module
 * Measures what the in-memory channel history costs per kept message: heap used after keeping
 * 100,000 messages of a 100-byte payload (1,000 channels × `--history-size 100`), less the heap
 * before, per message. Run with
 * `deno run --v8-flags=--expose-gc bench/history_memory.ts`.
 */

import { MemoryHistory } from "../src/backend/memory_history.ts";

const CHANNELS = 1_000;
const SIZE = 100;
const PAYLOAD_BYTES = 100;

function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().heapUsed;
}

if (import.meta.main) {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    throw new Error("run with --v8-flags=--expose-gc");
  }
  const before = heapAfterGc();
  using history = new MemoryHistory({ size: SIZE, ttlMs: 3_600_000 });
  for (let round = 0; round < SIZE; round++) {
    for (let channel = 0; channel < CHANNELS; channel++) {
      // A distinct string per message, as each broadcast's JSON text is.
      const payload = JSON.stringify(`${round}:${channel}:`.padEnd(PAYLOAD_BYTES - 2, "x"));
      history.append(`room:${channel}`, payload);
    }
  }
  const after = heapAfterGc();
  const kept = CHANNELS * SIZE;
  // deno-lint-ignore no-console
  console.log(
    `${kept} messages of ${PAYLOAD_BYTES} bytes in ${history.channelCount} channels: ` +
      `${Math.round((after - before) / kept)} bytes per kept message`,
  );
}
