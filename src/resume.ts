/**
 * @module
 * The live frames a connection holds back while a join with history on is answered, so that
 * none is lost or sent twice between the replay and the live stream. Pure bookkeeping: the
 * connection sends what it is given.
 */

import type { Position } from "./history.ts";

/** A frame as `Subscriber.send` got it. */
export type HeldFrame = [frame: string, channel: string | undefined, offset: number | undefined];

/** Live frames held back while a join is being answered. */
export class HeldFrames {
  readonly #frames: HeldFrame[] = [];

  /** Holds one frame, as `Subscriber.send` got it. */
  hold(frame: string, channel?: string, offset?: number): void {
    this.#frames.push([frame, channel, offset]);
  }

  /** The held frames to send, in order, leaving out those a channel's reported position
   * already covers (they were replayed, or came before the position the client now has). */
  release(states: ReadonlyMap<string, Position>): HeldFrame[] {
    return this.#frames.filter(([, channel, offset]) => {
      if (channel === undefined || offset === undefined) return true;
      const top = states.get(channel)?.offset;
      return top === undefined || offset > top;
    });
  }
}
