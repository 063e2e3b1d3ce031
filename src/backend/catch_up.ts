/**
 * @module
 * With history on in cluster mode, a node follows each channel's offsets as they arrive from
 * Redis. A gap (its subscription was down, or it was cut off) is filled from the shared history
 * before anything newer is delivered, so its subscribers miss nothing; when the missed messages
 * are no longer kept, the channel's local connections are closed so that they resume and learn
 * `recovered: false`, rather than go on with a silent gap.
 *
 * It also notices a stream that went backwards (a failover promoted a replica that lacked the
 * last writes): an offset it heard before arriving again, or another message kept at the last
 * offset it delivered. Such offsets are never delivered (clients would drop them as repeats):
 * the channel gets a new epoch, and its connections here are closed so that they resume and
 * learn `recovered: false`. Into a new epoch begun that way, it goes on only when it delivered
 * all that the old one kept.
 */

import type { KeptMessage, Position } from "./history.ts";
import type { Subscriber } from "../hub.ts";

/** A message as Redis delivered it: its place, its frame, and the subscriber of this node that
 * published it (and does not receive it), if any. */
export interface Arrival {
  readonly offset: number;
  readonly epoch: string;
  readonly frame: string;
  readonly except?: Subscriber | undefined;
}

/** What a node missed in a channel after a position it delivered. */
export interface Missed {
  /** The message kept at that position, to compare with the one delivered there; absent when
   * it is no longer kept (or the position is offset 0). */
  readonly at?: KeptMessage;
  /** Every message after it, oldest first. */
  readonly replay: ReadonlyArray<readonly [string, KeptMessage]>;
}

/** What `CatchUp` acts through. */
export interface CatchUpDeps {
  /** Hands one frame at `offset` to this node's subscribers of `channel` but `except`. */
  deliver(channel: string, frame: string, offset: number, except?: Subscriber): void;
  /** Renders the frame of a kept message. */
  render(channel: string, message: KeptMessage): string;
  /** The messages after `since` and the one at it, or null when they are not all kept (or the
   * epoch changed). */
  missed(channel: string, since: Position): Promise<Missed | null>;
  /** Starts a new epoch of `channel`, unless it has left `after.epoch` already: this node
   * delivered `after.offset` and then found the stream went backwards. */
  renew(channel: string, after: Position): Promise<void>;
  /** Where the epoch before `epoch` stood when `channel` left it because its stream went
   * backwards; null when `epoch` did not begin that way (or is gone already). */
  continues(channel: string, epoch: string): Promise<Position | null>;
  /** Closes this node's connections of `channel`, which must resume on their own. */
  giveUp(channel: string): void;
  /** How many of this node's connections joined `channel`. */
  members(channel: string): number;
}

/** Frames up to this many characters are kept as they are (a reference: no work per message);
 * longer ones by their digest. */
const KEPT_FRAME_CHARS = 8_192;

/** How many channels' last published positions a node remembers after their subscribers here
 * left (the oldest is forgotten first). */
const PUBLISHED_KEPT = 10_000;

interface Cursor {
  epoch: string;
  /** The last offset delivered here, or where the join that began the following stood. */
  offset: number;
  /** `fingerprint` of the frame delivered at `offset`; null when none was. */
  last: string | number | null;
  /** The highest offset of `epoch` that pub/sub brought: it brings them in order, once. */
  heard: number;
  /** Messages that arrived while the gap before them is being filled; null when none is. */
  waiting: Arrival[] | null;
}

/** Each served channel's last delivered offset, and the filling of gaps. */
export class CatchUp {
  readonly #cursors = new Map<string, Cursor>();
  readonly #published = new Map<string, Position>();
  readonly #deps: CatchUpDeps;

  constructor(deps: CatchUpDeps) {
    this.#deps = deps;
  }

  /** Takes the message at `offset` of `channel`'s `epoch`, as Redis delivered it. */
  receive(channel: string, arrival: Arrival): void {
    const { offset, epoch } = arrival;
    if (this.#deps.members(channel) === 0) {
      this.#cursors.delete(channel);
      return;
    }
    const cursor = this.#cursors.get(channel);
    if (cursor?.waiting) {
      cursor.waiting.push(arrival);
      return;
    }
    if (cursor === undefined) return this.#start(channel, arrival);
    if (cursor.epoch !== epoch) return this.#enter(channel, cursor, arrival);
    if (offset <= cursor.heard && !isRepeat(cursor, arrival)) {
      this.#wentBack(channel, cursor);
      return;
    }
    if (offset <= cursor.offset) {
      cursor.heard = Math.max(cursor.heard, offset);
      return;
    }
    if (offset === cursor.offset + 1) return this.#deliver(channel, cursor, arrival);
    cursor.waiting = [arrival];
    this.#fill(channel, cursor);
  }

  /** Follows `channel` from `position`, the one a join just reported, unless the node already
   * follows it: then what it has delivered is where it stands. */
  follow(channel: string, position: Position): void {
    if (this.#cursors.has(channel)) return;
    const { epoch, offset } = position;
    this.#cursors.set(channel, { epoch, offset, last: null, heard: 0, waiting: null });
  }

  /** Stops following `channel`: its last subscriber here left. */
  forget(channel: string): void {
    this.#cursors.delete(channel);
  }

  /** Notes that this node published `position` of `channel`. */
  published(channel: string, position: Position): void {
    this.#published.delete(channel);
    this.#published.set(channel, position);
    if (this.#published.size <= PUBLISHED_KEPT) return;
    this.#published.delete(this.#published.keys().next().value!);
  }

  /** The positions of `channel` this node has seen: delivered, and published. */
  seen(channel: string): Position[] {
    const seen: Position[] = [];
    const cursor = this.#cursors.get(channel);
    if (cursor !== undefined) seen.push({ epoch: cursor.epoch, offset: cursor.offset });
    const published = this.#published.get(channel);
    if (published !== undefined) seen.push(published);
    return seen;
  }

  /** Holds every channel's messages from now on: the subscription was interrupted. */
  interrupt(): void {
    for (const cursor of this.#cursors.values()) cursor.waiting ??= [];
  }

  /** Fills whatever every channel missed while the subscription was interrupted. */
  resume(): void {
    for (const [channel, cursor] of this.#cursors) {
      cursor.waiting ??= [];
      this.#fill(channel, cursor);
    }
  }

  /** A channel not followed yet: follows it from `arrival`. */
  #start(channel: string, arrival: Arrival): void {
    const cursor = { epoch: arrival.epoch, offset: 0, last: null, heard: 0, waiting: null };
    this.#cursors.set(channel, cursor);
    this.#deliver(channel, cursor, arrival);
  }

  #deliver(channel: string, cursor: Cursor, { offset, frame, except }: Arrival): void {
    cursor.offset = offset;
    cursor.heard = offset;
    cursor.last = fingerprint(frame);
    this.#deps.deliver(channel, frame, offset, except);
  }

  /** `arrival` is of another epoch than the one followed. */
  #enter(channel: string, cursor: Cursor, arrival: Arrival): void {
    // Not the first offset of the other epoch: some of it went by unseen.
    if (arrival.offset !== 1) return this.#giveUp(channel);
    // Nothing of the old epoch was delivered here, so nothing of it can be missing.
    if (cursor.offset === 0) return this.#start(channel, arrival);
    cursor.waiting = [arrival];
    this.#continueInto(channel, cursor, arrival.epoch);
  }

  /** Goes on into `epoch` when it began where this node stands in the old one (or before:
   * its subscribers then have more of it than Redis kept, and miss nothing of the new one);
   * otherwise the connections resume. */
  async #continueInto(channel: string, cursor: Cursor, epoch: string): Promise<void> {
    const after = await this.#deps.continues(channel, epoch).catch(() => null);
    const waiting = cursor.waiting ?? [];
    cursor.waiting = null;
    if (this.#cursors.get(channel) !== cursor) return;
    if (after === null || after.epoch !== cursor.epoch || after.offset > cursor.offset) {
      return this.#giveUp(channel);
    }
    Object.assign(cursor, { epoch, offset: 0, last: null, heard: 0 });
    for (const arrival of waiting) this.receive(channel, arrival);
  }

  async #fill(channel: string, cursor: Cursor): Promise<void> {
    const deps = this.#deps;
    let missed: Missed | null = null;
    try {
      missed = await deps.missed(channel, { offset: cursor.offset, epoch: cursor.epoch });
    } catch {
      // Cannot be filled now: the connections resume on their own instead of waiting.
      missed = null;
    }
    const waiting = cursor.waiting ?? [];
    cursor.waiting = null;
    if (missed === null) return this.#giveUp(channel);
    const at = missed.at;
    if (at !== undefined && cursor.last !== null) {
      if (fingerprint(deps.render(channel, at)) !== cursor.last) {
        return this.#wentBack(channel, cursor);
      }
    }
    for (const [, message] of missed.replay) {
      if (message.offset <= cursor.offset) continue;
      cursor.offset = message.offset;
      const frame = deps.render(channel, message);
      cursor.last = fingerprint(frame);
      deps.deliver(channel, frame, message.offset);
    }
    for (const arrival of waiting) this.receive(channel, arrival);
  }

  /** The stream of `channel` went backwards after this node delivered `cursor`: a new epoch
   * (unless another node began one already), then the connections resume. */
  async #wentBack(channel: string, cursor: Cursor): Promise<void> {
    cursor.waiting = [];
    try {
      await this.#deps.renew(channel, { epoch: cursor.epoch, offset: cursor.offset });
    } catch {
      // Then the first position past the top that reaches Redis begins it: a resume, a
      // publish, this node's next fill.
    }
    if (this.#cursors.get(channel) === cursor) this.#giveUp(channel);
  }

  #giveUp(channel: string): void {
    this.#cursors.delete(channel);
    this.#deps.giveUp(channel);
  }
}

/** Whether `arrival`, at or below an offset already heard, is the very message delivered last
 * (brought twice), rather than another one at a used offset. */
function isRepeat(cursor: Cursor, { offset, frame }: Arrival): boolean {
  return offset === cursor.offset && cursor.last === fingerprint(frame);
}

/** What tells `frame` from another message at its offset: the frame itself when short, else
 * its digest (two frames of different lengths never match). */
function fingerprint(frame: string): string | number {
  return frame.length <= KEPT_FRAME_CHARS ? frame : frameDigest(frame);
}

/** A 53-bit digest of `frame` (cyrb53). Not cryptographic: the frames are the cluster's own. */
function frameDigest(frame: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < frame.length; i++) {
    const code = frame.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
