/**
 * @module
 * Pusher presence channels as a `MemberFormat`, so that the members machinery of join and
 * leave events (backend/members.ts, backend/redis_members.ts) keeps their users across the cluster: a
 * member is a `user_id` (its string form is the key, so `5` and `"5"` are one user, as
 * pusher-js has it), and its info is the JSON `{"user_id", "user_info"}` of the first
 * connection that brought the user, which is also `member_added`'s data. Each Pusher session
 * says here who it is in each presence channel it subscribes to. Knows nothing of sockets.
 */

import { ADAPTER_CHANNEL_MARK } from "../channel.ts";
import type { Subscriber } from "../hub.ts";
import type { MemberFormat, MemberIdentity, MemberRoster } from "../backend/members.ts";
import { renderMemberAdded, renderMemberRemoved } from "../protocol/pusher.ts";

/** A presence member: a Pusher `user_id` (a number or a string) and its info. */
export interface PresenceMember {
  readonly userId: string | number;
  readonly userInfo?: unknown;
}

const PUSHER_MARK = `${ADAPTER_CHANNEL_MARK}pusher:`;

/** The Pusher name of a Pusher app's channel in the hub (see `pusherHubChannel`). */
export function pusherChannelName(hubChannel: string): string {
  return hubChannel.slice(hubChannel.indexOf(":", PUSHER_MARK.length) + 1);
}

/** The app id and Pusher name of a hub channel, or null when it is no Pusher app's. */
export function pusherChannelParts(
  hubChannel: string,
): { readonly appId: string; readonly channel: string } | null {
  if (!hubChannel.startsWith(PUSHER_MARK)) return null;
  const colon = hubChannel.indexOf(":", PUSHER_MARK.length);
  if (colon === -1) return null;
  return {
    appId: hubChannel.slice(PUSHER_MARK.length, colon),
    channel: hubChannel.slice(colon + 1),
  };
}

/** Who each Pusher connection is in each presence channel, as a format of members. */
export class PusherPresence implements MemberFormat {
  readonly hasInfo = true;
  /** Connection → hub channel → who it is there. */
  readonly #identities = new Map<Subscriber, Map<string, MemberIdentity>>();

  /** Says that `connection` is `member` in `hubChannel`, before it joins it. */
  enter(connection: Subscriber, hubChannel: string, member: PresenceMember): void {
    let channels = this.#identities.get(connection);
    if (channels === undefined) this.#identities.set(connection, channels = new Map());
    const info = JSON.stringify({ "user_id": member.userId, "user_info": member.userInfo ?? null });
    channels.set(hubChannel, { user: String(member.userId), info });
  }

  /** Forgets who `connection` is in `hubChannel` (all of them without one), after it left. */
  exit(connection: Subscriber, hubChannel?: string): void {
    const channels = this.#identities.get(connection);
    if (channels === undefined) return;
    if (hubChannel !== undefined) channels.delete(hubChannel);
    if (hubChannel === undefined || channels.size === 0) this.#identities.delete(connection);
  }

  tracks(channel: string): boolean {
    return channel.startsWith(PUSHER_MARK) && pusherChannelName(channel).startsWith("presence-");
  }

  identify(subscriber: Subscriber, channel: string): MemberIdentity | null {
    return this.#identities.get(subscriber)?.get(channel) ?? null;
  }

  joined(channel: string, { info }: MemberIdentity): string {
    const { user_id: userId, user_info: userInfo } = JSON.parse(info);
    return renderMemberAdded(pusherChannelName(channel), userId, userInfo);
  }

  left(channel: string, { info }: MemberIdentity): string {
    return renderMemberRemoved(pusherChannelName(channel), JSON.parse(info).user_id);
  }
}

/** The members a roster lists, as `subscription_succeeded` and the REST API give them. */
export function presenceMembers(roster: MemberRoster | undefined): PresenceMember[] {
  if (roster === undefined) return [];
  return roster.users.map((user, i) => {
    try {
      const { user_id: userId, user_info: userInfo } = JSON.parse(roster.infos[i] ?? "");
      return { userId, userInfo };
    } catch {
      // A member whose info went with an earlier leave: known by id only.
      return { userId: user };
    }
  });
}
