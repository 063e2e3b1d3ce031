/**
 * @module
 * The live frames a connection holds back while a join with history on is answered, so that
 * none is lost or sent twice between the replay and the live stream. Pure bookkeeping: the
 * connection sends what it is given.
 */

import type { Position, Resume } from "./backend/history.ts";
import { renderFrame } from "./protocol.ts";

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

/** How long after a join the frames its reply already covered are still dropped: those
 * published just before the positions were read may still be on their way. */
const FLOOR_MS = 2_000;

/** Per channel, the offset a join reply reported, for a short while after the join. */
export class ReplayFloors {
  readonly #floors = new Map<string, { offset: number; until: number }>();
  readonly #now: () => number;

  /** `now` is the clock, in milliseconds (default `Date.now`). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Remembers each channel's reported offset, and forgets the floors whose time is over. */
  set(states: ReadonlyMap<string, Position>): void {
    const now = this.#now();
    // Oldest first (each floor is moved to the end when set again): a connection that joins
    // channels that never get a frame does not pile up floors.
    for (const [channel, floor] of this.#floors) {
      if (floor.until > now) break;
      this.#floors.delete(channel);
    }
    const until = now + FLOOR_MS;
    for (const [channel, { offset }] of states) {
      this.#floors.delete(channel);
      this.#floors.set(channel, { offset, until });
    }
  }

  /** How many channels have a floor. */
  get size(): number {
    return this.#floors.size;
  }

  /** Whether the frame at `offset` of `channel` is one the client already has. */
  covers(channel: string, offset: number): boolean {
    const floor = this.#floors.get(channel);
    if (floor === undefined) return false;
    if (offset <= floor.offset && this.#now() < floor.until) return true;
    this.#floors.delete(channel);
    return false;
  }
}

/** A frame sender, as `Subscriber.send`. */
export type FrameSender = (frame: string, channel?: string, offset?: number) => unknown;

/** One connection's joins with history on: live frames are held from the join on, then the
 * replay goes out, then the held frames the replay did not cover; for a while after, late
 * copies of covered frames are dropped. */
export class JoinGate {
  #held: HeldFrames | null = null;
  readonly #floors = new ReplayFloors();
  #isReplaying = false;

  /** Whether the gate takes this frame instead of the socket: held during a join, or dropped
   * as one the client already has. */
  intercept(frame: string, channel?: string, offset?: number): boolean {
    if (this.#isReplaying) return false;
    if (this.#held !== null) {
      this.#held.hold(frame, channel, offset);
      return true;
    }
    return offset !== undefined && this.#floors.size > 0 && this.#floors.covers(channel!, offset);
  }

  /** Starts holding live frames: call before the join is applied. */
  hold(): void {
    this.#held = new HeldFrames();
  }

  /** Sends, through `send`, the replay of `resume` and then the held frames it does not
   * cover, and stops holding. Call after the reply went out (or failed). */
  release(resume: Resume, send: FrameSender): void {
    const held = this.#held;
    this.#held = null;
    this.#floors.set(resume.states);
    // The replay is what the client asked for, even below a floor an earlier join left (a
    // quick second join with `since`): it bypasses the floors.
    this.#isReplaying = true;
    try {
      for (const [channel, kept] of resume.replay) {
        send(renderFrame(channel, kept.payload, kept.offset, kept.user), channel, kept.offset);
      }
    } finally {
      this.#isReplaying = false;
    }
    for (const [frame, channel, offset] of held?.release(resume.states) ?? []) {
      send(frame, channel, offset);
    }
  }
}
