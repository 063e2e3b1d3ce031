/**
 * @module
 * The in-memory hub: which connections are open, which token (and user) each is authenticated
 * with, and which channels each has joined. It reaches clients only through the `Subscriber` interface
 * and does no I/O of its own, so it knows nothing of WebSockets, HTTP or token validity.
 */

/** One connection, as the hub sees it. */
export interface Subscriber {
  /** Sends one text frame; returns false when the connection can no longer take frames. A
   * broadcast names its channel, and its offset when history is on. */
  send(frame: string, channel?: string, offset?: number): boolean;
  /** Starts closing the connection with a WebSocket close `code` and `reason`. */
  close(code: number, reason: string): void;
}

/** A point-in-time view of the hub, for the debug dump. Tokens and channels are listed in the
 * order they first appeared. */
export interface HubSnapshot {
  readonly anonymous: number;
  /** Each authenticated token with its number of connections. */
  readonly tokens: ReadonlyArray<readonly [token: string, connections: number]>;
  /** Each channel with its number of subscribers. */
  readonly channels: ReadonlyArray<readonly [channel: string, subscribers: number]>;
}

interface Session {
  token: string | null;
  /** Who holds the token, when its grant says. */
  user: string | null;
  readonly channels: Set<string>;
}

/** Who is in a channel: its connections, and the distinct users who hold their tokens. */
export interface Presence {
  readonly connections: number;
  readonly users: readonly string[];
}

/** What `updateChannels` did: `ok`, or why it changed nothing. */
export type ChannelUpdate = "ok" | "unauthenticated" | "too-many-channels";

/** One change of membership: the connection it concerns, and the channels whose member count
 * it changed (none for an added or authenticated connection). */
export interface HubChange {
  readonly subscriber: Subscriber;
  readonly channels: readonly string[];
}

/** What the hub holds for one open connection. */
export interface SessionView {
  /** The token it authenticated with, or null while anonymous. */
  readonly token: string | null;
  /** Who holds the token, when its grant says. */
  readonly user: string | null;
  readonly channels: ReadonlySet<string>;
}

/** Called after every change of membership: a connection added, authenticated, joined, left,
 * closed or removed. */
export type HubListener = (change: HubChange) => void;

/** Connections ⇄ tokens ⇄ users ⇄ channels. Empty channels, and tokens and users without
 * connections, are dropped at once, so memory follows live state only. */
export class Hub {
  readonly #sessions = new Map<Subscriber, Session>();
  readonly #tokens = new Map<string, Set<Subscriber>>();
  readonly #users = new Map<string, Set<Subscriber>>();
  readonly #channels = new Map<string, Set<Subscriber>>();
  readonly #listeners = new Set<HubListener>();
  #anonymous = 0;

  /** Registers a new, anonymous connection. Adding one twice is a no-op. */
  add(subscriber: Subscriber): void {
    if (this.#sessions.has(subscriber)) return;
    this.#sessions.set(subscriber, { token: null, user: null, channels: new Set() });
    this.#anonymous++;
    this.#changed(subscriber, []);
  }

  /** Marks a connection as authenticated with `token`, held by `user` (if known), replacing
   * any earlier token; its channels stay joined. Returns false for a connection the hub does not
   * know. */
  authenticate(subscriber: Subscriber, token: string, user: string | null = null): boolean {
    const session = this.#sessions.get(subscriber);
    if (session === undefined) return false;
    if (session.token === token && session.user === user) return true;
    if (session.token !== token) {
      if (session.token === null) this.#anonymous--;
      else removeMember(this.#tokens, session.token, subscriber);
      addMember(this.#tokens, token, subscriber);
    }
    if (session.user !== user) {
      if (session.user !== null) removeMember(this.#users, session.user, subscriber);
      if (user !== null) addMember(this.#users, user, subscriber);
    }
    session.token = token;
    session.user = user;
    this.#changed(subscriber, []);
    return true;
  }

  /** Whether the connection is known and authenticated. */
  isAuthenticated(subscriber: Subscriber): boolean {
    return (this.#sessions.get(subscriber)?.token ?? null) !== null;
  }

  /** Joins the connection to `join`, then leaves `leave`; a name in both ends up left. When
   * the connection would end up in more than `maxChannels` channels, nothing changes. */
  updateChannels(
    subscriber: Subscriber,
    join: readonly string[],
    leave: readonly string[],
    maxChannels = Infinity,
  ): ChannelUpdate {
    const session = this.#sessions.get(subscriber);
    if (session === undefined || session.token === null) return "unauthenticated";
    if (countAfter(session.channels, join, leave) > maxChannels) return "too-many-channels";
    const changed = new Set<string>();
    for (const channel of join) {
      if (session.channels.has(channel)) continue;
      session.channels.add(channel);
      addMember(this.#channels, channel, subscriber);
      changed.add(channel);
    }
    for (const channel of leave) {
      if (!session.channels.delete(channel)) continue;
      removeMember(this.#channels, channel, subscriber);
      changed.add(channel);
    }
    this.#changed(subscriber, [...changed]);
    return "ok";
  }

  /** How many channels the connection has joined. */
  channelsOf(subscriber: Subscriber): number {
    return this.#sessions.get(subscriber)?.channels.size ?? 0;
  }

  /** Forgets a connection: it leaves every channel and its token at once. Removing an unknown
   * connection is a no-op. */
  remove(subscriber: Subscriber): void {
    const session = this.#sessions.get(subscriber);
    if (session === undefined) return;
    this.#sessions.delete(subscriber);
    for (const channel of session.channels) removeMember(this.#channels, channel, subscriber);
    if (session.token === null) this.#anonymous--;
    else removeMember(this.#tokens, session.token, subscriber);
    if (session.user !== null) removeMember(this.#users, session.user, subscriber);
    this.#changed(subscriber, [...session.channels]);
  }

  /** What the hub holds for `subscriber`, or undefined once it is removed. */
  sessionOf(subscriber: Subscriber): SessionView | undefined {
    return this.#sessions.get(subscriber);
  }

  /** Sends the prebuilt `frame` (the message at `offset`, with history on) to every
   * subscriber of `channel` but `except`, in subscription order; returns how many took it. */
  publish(channel: string, frame: string, offset?: number, except?: Subscriber): number {
    const members = this.#channels.get(channel);
    if (members === undefined) return 0;
    let sent = 0;
    for (const member of members) {
      if (member !== except && member.send(frame, channel, offset)) sent++;
    }
    return sent;
  }

  /** How many connections have joined `channel`. */
  memberCount(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** How many connections are open, anonymous or not. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** How many open connections have not authenticated. */
  get anonymousCount(): number {
    return this.#anonymous;
  }

  /** How many channels have at least one subscriber. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** The tokens with at least one authenticated connection. */
  activeTokens(): string[] {
    return [...this.#tokens.keys()];
  }

  /** The users whose tokens at least one connection is authenticated with. */
  activeUsers(): string[] {
    return [...this.#users.keys()];
  }

  /** How many connections are authenticated with a token that names `user`. */
  userConnections(user: string): number {
    return this.#users.get(user)?.size ?? 0;
  }

  /** How many connections joined `channel`, and the distinct users among them, in the order
   * they joined. */
  presence(channel: string): Presence {
    const users = new Set<string>();
    const members = this.#channels.get(channel) ?? new Set<Subscriber>();
    for (const member of members) {
      const user = this.#sessions.get(member)?.user ?? null;
      if (user !== null) users.add(user);
    }
    return { connections: members.size, users: [...users] };
  }

  /** The distinct tokens of the connections that joined `channel`. */
  channelTokens(channel: string): string[] {
    const tokens = new Set<string>();
    for (const member of this.#channels.get(channel) ?? []) {
      const token = this.#sessions.get(member)?.token ?? null;
      if (token !== null) tokens.add(token);
    }
    return [...tokens];
  }

  /** Closes and forgets every connection authenticated with `token`; returns how many. They
   * stop receiving at once, before their close handshakes finish. */
  disconnectToken(token: string, code: number, reason: string): number {
    const members = [...(this.#tokens.get(token) ?? [])];
    for (const member of members) this.#disconnect(member, code, reason);
    return members.length;
  }

  /** Closes and forgets every connection authenticated with a token that names `user` (an
   * opaque token's grant, a JWT's `sub`); returns how many. O(their number). */
  disconnectUser(user: string, code: number, reason: string): number {
    const members = [...(this.#users.get(user) ?? [])];
    for (const member of members) this.#disconnect(member, code, reason);
    return members.length;
  }

  /** Closes and forgets every connection that joined `channel`; returns how many. */
  disconnectChannel(channel: string, code: number, reason: string): number {
    const members = [...(this.#channels.get(channel) ?? [])];
    for (const member of members) this.#disconnect(member, code, reason);
    return members.length;
  }

  /** The counts the debug dump shows. */
  snapshot(): HubSnapshot {
    const sizes = <K>(map: Map<K, Set<Subscriber>>) =>
      [...map].map(([key, members]) => [key, members.size] as const);
    return {
      anonymous: this.#anonymous,
      tokens: sizes(this.#tokens),
      channels: sizes(this.#channels),
    };
  }

  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: HubListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #disconnect(subscriber: Subscriber, code: number, reason: string): void {
    this.remove(subscriber);
    subscriber.close(code, reason);
  }

  #changed(subscriber: Subscriber, channels: readonly string[]): void {
    for (const listener of this.#listeners) listener({ subscriber, channels });
  }
}

/** How many channels `current` holds after joining `join` and then leaving `leave`. */
function countAfter(
  current: ReadonlySet<string>,
  join: readonly string[],
  leave: readonly string[],
): number {
  if (join.length === 0) return current.size;
  const after = new Set(current);
  for (const channel of join) after.add(channel);
  for (const channel of leave) after.delete(channel);
  return after.size;
}

function addMember<K>(index: Map<K, Set<Subscriber>>, key: K, subscriber: Subscriber): void {
  const members = index.get(key);
  if (members === undefined) index.set(key, new Set([subscriber]));
  else members.add(subscriber);
}

function removeMember<K>(index: Map<K, Set<Subscriber>>, key: K, subscriber: Subscriber): void {
  const members = index.get(key);
  if (members === undefined) return;
  members.delete(subscriber);
  if (members.size === 0) index.delete(key);
}
