/**
 * @module
 * With history on in cluster mode, a node follows each channel's offsets as they arrive from
 * Redis. A gap (its subscription was down, or it was cut off) is filled from the shared history
 * before anything newer is delivered, so its subscribers miss nothing; when the missed messages
 * are no longer kept, the channel's local connections are closed so that they resume and learn
 * `recovered: false`, rather than go on with a silent gap.
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

/** What `CatchUp` acts through. */
export interface CatchUpDeps {
  /** Hands one frame at `offset` to this node's subscribers of `channel` but `except`. */
  deliver(channel: string, frame: string, offset: number, except?: Subscriber): void;
  /** Renders the frame of a kept message. */
  render(channel: string, message: KeptMessage): string;
  /** The messages after `since`, or null when they are not all kept. */
  missed(
    channel: string,
    since: Position,
  ): Promise<ReadonlyArray<readonly [string, KeptMessage]> | null>;
  /** Closes this node's connections of `channel`, which must resume on their own. */
  giveUp(channel: string): void;
  /** How many of this node's connections joined `channel`. */
  members(channel: string): number;
}

interface Cursor {
  epoch: string;
  offset: number;
  /** Messages that arrived while the gap before them is being filled; null when none is. */
  waiting: Arrival[] | null;
}

/** Each served channel's last delivered offset, and the filling of gaps. */
export class CatchUp {
  readonly #cursors = new Map<string, Cursor>();
  readonly #deps: CatchUpDeps;

  constructor(deps: CatchUpDeps) {
    this.#deps = deps;
  }

  /** Takes the message at `offset` of `channel`'s `epoch`, as Redis delivered it. */
  receive(channel: string, arrival: Arrival): void {
    const { offset, epoch, frame, except } = arrival;
    const deps = this.#deps;
    if (deps.members(channel) === 0) {
      this.#cursors.delete(channel);
      return;
    }
    const cursor = this.#cursors.get(channel);
    if (cursor?.waiting) {
      cursor.waiting.push(arrival);
      return;
    }
    // A new channel here, or its history started again after expiring (offset 1): follow it.
    if (cursor === undefined || (cursor.epoch !== epoch && offset === 1)) {
      this.#cursors.set(channel, { epoch, offset, waiting: null });
      deps.deliver(channel, frame, offset, except);
      return;
    }
    if (cursor.epoch !== epoch) return this.#giveUp(channel);
    if (offset <= cursor.offset) return;
    if (offset === cursor.offset + 1) {
      cursor.offset = offset;
      deps.deliver(channel, frame, offset, except);
      return;
    }
    cursor.waiting = [arrival];
    this.#fill(channel, cursor);
  }

  /** Follows `channel` from `position`, the one a join just reported, unless the node already
   * follows it: then what it has delivered is where it stands. */
  follow(channel: string, position: Position): void {
    if (this.#cursors.has(channel)) return;
    this.#cursors.set(channel, { epoch: position.epoch, offset: position.offset, waiting: null });
  }

  /** Stops following `channel`: its last subscriber here left. */
  forget(channel: string): void {
    this.#cursors.delete(channel);
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

  async #fill(channel: string, cursor: Cursor): Promise<void> {
    const deps = this.#deps;
    let missed: Awaited<ReturnType<CatchUpDeps["missed"]>> = null;
    try {
      missed = await deps.missed(channel, { offset: cursor.offset, epoch: cursor.epoch });
    } catch {
      // Cannot be filled now: the connections resume on their own instead of waiting.
      missed = null;
    }
    const waiting = cursor.waiting ?? [];
    cursor.waiting = null;
    if (missed === null) return this.#giveUp(channel);
    for (const [, message] of missed) {
      if (message.offset <= cursor.offset) continue;
      cursor.offset = message.offset;
      deps.deliver(channel, deps.render(channel, message), message.offset);
    }
    for (const arrival of waiting) this.receive(channel, arrival);
  }

  #giveUp(channel: string): void {
    this.#cursors.delete(channel);
    this.#deps.giveUp(channel);
  }
}
