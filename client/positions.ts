/**
 * @module
 * Where the subscriber stands in each channel's stream, with history on: the position to
 * resume after on a reconnect, the join reply's channel states applied to it, and the frames
 * it already has. Pure bookkeeping: knows nothing of sockets or queues.
 */

import type { RecoveryEvent, StreamPosition } from "./subscriber_types.ts";

/** Each channel's last offset received and its epoch. */
export class Positions {
  readonly #positions = new Map<string, StreamPosition>();

  /** Starts from `initial`, e.g. positions an earlier subscriber saved. */
  constructor(initial: Readonly<Record<string, StreamPosition>> = {}) {
    for (const [channel, { offset, epoch }] of Object.entries(initial)) {
      this.#positions.set(channel, { offset, epoch });
    }
  }

  /** Every known position, by channel. */
  snapshot(): Record<string, StreamPosition> {
    return Object.fromEntries(this.#positions);
  }

  /** The `since` of a join of `channels`: the position of each that has one; undefined when
   * none has, so that the join is sent as it was before history existed. */
  since(channels: Iterable<string>): Record<string, StreamPosition> | undefined {
    const since: Record<string, StreamPosition> = {};
    let isEmpty = true;
    for (const channel of channels) {
      const position = this.#positions.get(channel);
      if (position === undefined) continue;
      since[channel] = position;
      isEmpty = false;
    }
    return isEmpty ? undefined : since;
  }

  /** Applies the reply to a join of `join` that was sent with `since`; returns a failure for
   * each channel whose position could not be resumed, in the reply's order.
   *
   * A recovered channel keeps its position: the replay that follows the reply advances it. One
   * resumed from offset 0 into an epoch the channel began since (it had no message then, and
   * its state went with its subscribers) takes that epoch at the same offset. A channel not
   * recovered, or joined without a position, takes the reply's position. A reply
   * without channel states (a server with history off) forgets the positions, and each
   * channel that had one is reported as not recovered, with no offset or epoch. */
  applyJoinReply(
    join: readonly string[],
    since: Readonly<Record<string, StreamPosition>> | undefined,
    reply: Readonly<Record<string, unknown>>,
  ): RecoveryEvent[] {
    const failures: RecoveryEvent[] = [];
    const states = isRecord(reply.channels) ? reply.channels : undefined;
    for (const channel of new Set(join)) {
      const asked = since?.[channel];
      const state = states?.[channel];
      if (!isChannelState(state)) {
        this.#positions.delete(channel);
        if (asked !== undefined) failures.push(failure(channel, asked, undefined));
        continue;
      }
      if (state.recovered === true && asked?.epoch === state.epoch) continue;
      if (state.recovered === true && asked !== undefined) {
        this.#positions.set(channel, { offset: asked.offset, epoch: state.epoch });
        continue;
      }
      this.#positions.set(channel, { offset: state.offset, epoch: state.epoch });
      if (asked !== undefined) failures.push(failure(channel, asked, state));
    }
    return failures;
  }

  /** Records a frame of `channel` at `offset`; false when it is one the subscriber already
   * has, to be dropped. A frame of a channel without a position is always new.
   *
   * Frames carry no epoch, so an offset of 1 at or below the position is taken for the
   * first message of a new epoch (the server started the channel again after its history
   * expired), not for a repeat: it is kept, and the position keeps the old epoch, so that
   * a resume after it is refused with `recovered: false` rather than trusted. */
  accept(channel: string, offset: number): boolean {
    const position = this.#positions.get(channel);
    if (position === undefined) return true;
    if (offset <= position.offset && offset !== 1) return false;
    this.#positions.set(channel, { offset, epoch: position.epoch });
    return true;
  }

  /** Takes `position` for `channel`, whatever it had: where a stream that has just opened says
   * the channel stands, before its first frame (a resumed channel's offset, in the channel's
   * epoch now). */
  startAt(channel: string, position: StreamPosition): void {
    this.#positions.set(channel, position);
  }

  /** Takes `position` for `channel` when it has none yet, e.g. from an SSE event id. */
  learn(channel: string, position: StreamPosition): void {
    if (!this.#positions.has(channel)) this.#positions.set(channel, position);
  }

  /** Applies a failed resume of `channel` after `since` that came without a join reply (an
   * SSE `event: recovery`): takes `now`, or forgets the position when the server did not
   * say where the channel stands; returns the failure to report. */
  notRecovered(
    channel: string,
    since: StreamPosition,
    now: StreamPosition | undefined,
  ): RecoveryEvent {
    if (now === undefined) this.#positions.delete(channel);
    else this.#positions.set(channel, { offset: now.offset, epoch: now.epoch });
    return failure(channel, since, now);
  }

  /** Forgets the positions of `channels`, once left. */
  forget(channels: Iterable<string>): void {
    for (const channel of channels) this.#positions.delete(channel);
  }
}

function failure(
  channel: string,
  since: StreamPosition,
  now: StreamPosition | undefined,
): RecoveryEvent {
  return {
    type: "recovery",
    channel,
    recovered: false,
    offset: now?.offset,
    epoch: now?.epoch,
    since: { offset: since.offset, epoch: since.epoch },
  };
}

function isChannelState(value: unknown): value is StreamPosition & { recovered?: boolean } {
  return isRecord(value) && typeof value.offset === "number" && typeof value.epoch === "string";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
