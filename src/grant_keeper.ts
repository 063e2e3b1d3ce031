/**
 * @module
 * The grant of one authenticated connection: which channels it may join, and the timer that
 * ends it when its token expires. Knows nothing of sockets: the connection acts on what it says.
 */

import { grantsChannel, OPEN_GRANT, type TokenGrant } from "./grants.ts";

// setTimeout cannot wait longer than this; a longer expiry is reached in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One connection's current grant and expiry timer. */
export class GrantKeeper implements Disposable {
  #grant: TokenGrant = OPEN_GRANT;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Takes `grant` (replacing the earlier one and its timer); `onExpiry` runs when it
   * expires. */
  set(grant: TokenGrant, onExpiry: () => void): void {
    this.#grant = grant;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (grant.expiresAt !== null) this.#arm(grant.expiresAt * 1000, onExpiry);
  }

  /** Who holds the token, if anyone said. */
  get user(): string | null {
    return this.#grant.user;
  }

  /** The channel patterns it may publish to. */
  get publish(): readonly string[] {
    return this.#grant.publish;
  }

  /** The index of the first of `channels` the grant does not allow, or -1. */
  firstDenied(channels: readonly string[]): number {
    return channels.findIndex((channel) => !grantsChannel(this.#grant.channels, channel));
  }

  /** Those of `channels` the grant does not allow. */
  denied(channels: Iterable<string>): string[] {
    return [...channels].filter((channel) => !grantsChannel(this.#grant.channels, channel));
  }

  #arm(atMs: number, onExpiry: () => void): void {
    const delay = atMs - Date.now();
    if (delay <= 0) return onExpiry();
    this.#timer = setTimeout(
      () => this.#arm(atMs, onExpiry),
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
