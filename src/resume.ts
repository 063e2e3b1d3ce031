/**
 * @module
 * Resuming channels on join, with history on: each joined channel's position for the reply,
 * the kept messages to replay after a `since`, and the live frames held back meanwhile so that
 * none is lost or sent twice. Pure bookkeeping: the connection sends what it is given.
 */

import type { MemoryHistory } from "./history.ts";
import { type ChannelState, renderFrame, type StreamPosition } from "./protocol.ts";

/** What a join with history on answers and replays. */
export interface Resume {
  /** Each joined channel's state, for the reply. */
  readonly states: ReadonlyMap<string, ChannelState>;
  /** The replayed frames, in order: every kept message after each recovered `since`. */
  readonly replay: readonly string[];
}

/** Reads each channel of `join` from `history`: its position, and the messages after its
 * `since` position when they are all kept under the same epoch. */
export function resumeChannels(
  history: MemoryHistory,
  join: readonly string[],
  since: ReadonlyMap<string, StreamPosition> | undefined,
): Resume {
  const states = new Map<string, ChannelState>();
  const replay: string[] = [];
  for (const channel of join) {
    if (states.has(channel)) continue;
    const asked = since?.get(channel);
    const kept = asked === undefined ? null : history.after(channel, asked);
    const { offset, epoch } = history.position(channel);
    if (asked === undefined) {
      states.set(channel, { offset, epoch });
      continue;
    }
    states.set(channel, { recovered: kept !== null, offset, epoch });
    for (const message of kept ?? []) {
      replay.push(renderFrame(channel, message.payload, message.offset));
    }
  }
  return { states, replay };
}

/** Live frames held back while a join is being answered. */
export class HeldFrames {
  readonly #frames: Array<
    [frame: string, channel: string | undefined, offset: number | undefined]
  > = [];

  /** Holds one frame, as `Subscriber.send` got it. */
  hold(frame: string, channel?: string, offset?: number): void {
    this.#frames.push([frame, channel, offset]);
  }

  /** The held frames to send, in order, leaving out those a channel's reported position
   * already covers (they were replayed, or came before the position the client now has). */
  release(
    states: ReadonlyMap<string, StreamPosition>,
  ): Array<[frame: string, channel: string | undefined, offset: number | undefined]> {
    return this.#frames.filter(([, channel, offset]) => {
      if (channel === undefined || offset === undefined) return true;
      const top = states.get(channel)?.offset;
      return top === undefined || offset > top;
    });
  }
}
