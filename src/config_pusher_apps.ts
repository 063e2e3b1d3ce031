/**
 * @module
 * The Pusher apps Boreas serves (`--pusher-app ID:KEY:SECRET`, `BOREAS_PUSHER_APPS`, or the
 * config file's `pusherApps`): what an app is, and how a raw declaration becomes one. Pure.
 * A problem never quotes a secret, nor a raw declaration that may hold one.
 */

/** The webhook events a Pusher app may be sent, by Pusher's names. */
export const PUSHER_WEBHOOK_EVENTS = [
  "channel_occupied",
  "channel_vacated",
  "member_added",
  "member_removed",
  "client_event",
  "cache_miss",
] as const;

/** One of `PUSHER_WEBHOOK_EVENTS`. */
export type PusherWebhookEvent = typeof PUSHER_WEBHOOK_EVENTS[number];

/** Where one app's webhooks go, and which events that URL gets. */
export interface PusherWebhook {
  readonly url: string;
  /** The events this URL receives; default: every one. */
  readonly events: readonly PusherWebhookEvent[];
}

/** One Pusher app: its credentials and, from the config file only, its options. */
export interface PusherApp {
  /** The app id of the REST API's paths (`/apps/{id}/...`). */
  readonly id: string;
  /** The public key of the WebSocket path (`/app/{key}`) and of signatures. */
  readonly key: string;
  /** Signs channel authorizations, REST requests and webhooks. Never logged. */
  readonly secret: string;
  /** Whether subscribers may send `client-*` events on private and presence channels;
   * default false. */
  readonly enableClientMessages: boolean;
  /** Open connections of this app at once; null (default): only `--max-connections` bounds
   * them. */
  readonly maxConnections: number | null;
  /** Largest event `data`, in KiB (1,024 bytes); default 10, as Pusher. */
  readonly maxEventPayloadKb: number;
  /** Seconds of silence before the server pings a connection, told to clients in
   * `pusher:connection_established`; default 120, as Pusher. */
  readonly activityTimeout: number;
  readonly webhooks: readonly PusherWebhook[];
}

/** What an app has when the file does not say. */
export const PUSHER_APP_DEFAULTS = Object.freeze({
  enableClientMessages: false,
  maxConnections: null,
  maxEventPayloadKb: 10,
  activityTimeout: 120,
  webhooks: Object.freeze([]),
});

/** App ids and keys: they appear in URL paths and in `KEY:SIGNATURE`, so no `:` or `/`. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const NAME_TEXT = "1-64 characters of A-Z a-z 0-9 . _ -";

const FILE_FIELDS = new Set([
  "id",
  "key",
  "secret",
  "enableClientMessages",
  "maxConnections",
  "maxEventPayloadKb",
  "activityTimeout",
  "webhooks",
]);

/** Turns a raw value into apps: `ID:KEY:SECRET` strings (a flag's, repeated, or the
 * environment's, comma-separated) or a config file's array of objects. Returns what is wrong
 * otherwise, naming the app by its place (and id, once known) but never its secret. */
export function parsePusherApps(raw: unknown): readonly PusherApp[] | { problem: string } {
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((item) =>
    typeof item === "string" ? item.split(",") : [item]
  );
  const apps: PusherApp[] = [];
  for (const [index, item] of items.entries()) {
    const app = typeof item === "string"
      ? fromTriple(item.trim(), index + 1)
      : fromObject(item, index + 1);
    if ("problem" in app) return app;
    apps.push(app);
  }
  const problem = duplicate(apps, "id") ?? duplicate(apps, "key");
  return problem === null ? Object.freeze(apps) : { problem };
}

/** `ID:KEY:SECRET`; the secret is everything after the second colon. */
function fromTriple(text: string, place: number): PusherApp | { problem: string } {
  const first = text.indexOf(":");
  const second = first === -1 ? -1 : text.indexOf(":", first + 1);
  if (second === -1) return { problem: `app ${place}: expected ID:KEY:SECRET` };
  return checked({
    id: text.slice(0, first),
    key: text.slice(first + 1, second),
    secret: text.slice(second + 1),
  }, place);
}

function fromObject(item: unknown, place: number): PusherApp | { problem: string } {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return { problem: `app ${place}: expected "ID:KEY:SECRET" or an object with id, key, secret` };
  }
  const fields = item as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !FILE_FIELDS.has(name));
  const label = appLabel(fields.id, place);
  if (unknown !== undefined) {
    return { problem: `${label}: ${JSON.stringify(unknown)}: unknown field` };
  }
  return checked(fields, place);
}

/** Validates every field of one app, filling in the defaults. */
function checked(
  fields: Record<string, unknown>,
  place: number,
): PusherApp | { problem: string } {
  const { id, key, secret } = fields;
  const label = appLabel(id, place);
  const fail = (problem: string) => ({ problem: `${label}: ${problem}` });
  if (typeof id !== "string" || !NAME.test(id)) return fail(`id: expected ${NAME_TEXT}`);
  if (typeof key !== "string" || !NAME.test(key)) return fail(`key: expected ${NAME_TEXT}`);
  if (typeof secret !== "string" || secret === "") {
    return fail("secret: expected a non-empty secret");
  }
  const {
    enableClientMessages = PUSHER_APP_DEFAULTS.enableClientMessages,
    maxConnections = PUSHER_APP_DEFAULTS.maxConnections,
    maxEventPayloadKb = PUSHER_APP_DEFAULTS.maxEventPayloadKb,
    activityTimeout = PUSHER_APP_DEFAULTS.activityTimeout,
    webhooks = PUSHER_APP_DEFAULTS.webhooks,
  } = fields;
  if (typeof enableClientMessages !== "boolean") {
    return fail(`enableClientMessages: expected true or false, got ${shown(enableClientMessages)}`);
  }
  if (maxConnections !== null && !isWhole(maxConnections)) {
    return fail(
      `maxConnections: expected a whole number of at least 1, got ${shown(maxConnections)}`,
    );
  }
  if (typeof maxEventPayloadKb !== "number" || !(maxEventPayloadKb > 0)) {
    return fail(`maxEventPayloadKb: expected a number above 0, got ${shown(maxEventPayloadKb)}`);
  }
  // setTimeout cannot wait longer than 2^31-1 ms.
  if (
    typeof activityTimeout !== "number" || !(activityTimeout > 0) ||
    activityTimeout * 1000 > 2 ** 31 - 1
  ) {
    return fail(
      `activityTimeout: expected a number of seconds above 0, got ${shown(activityTimeout)}`,
    );
  }
  const hooks = parseWebhooks(webhooks);
  if ("problem" in hooks) return fail(hooks.problem);
  return Object.freeze({
    id,
    key,
    secret,
    enableClientMessages,
    maxConnections,
    maxEventPayloadKb,
    activityTimeout,
    webhooks: hooks,
  });
}

function parseWebhooks(raw: unknown): readonly PusherWebhook[] | { problem: string } {
  if (!Array.isArray(raw)) return { problem: "webhooks: expected an array of {url, events}" };
  const hooks: PusherWebhook[] = [];
  for (const [index, hook] of raw.entries()) {
    const where = `webhooks[${index}]`;
    if (typeof hook !== "object" || hook === null || Array.isArray(hook)) {
      return { problem: `${where}: expected an object with url and events` };
    }
    const { url, events = PUSHER_WEBHOOK_EVENTS, ...rest } = hook as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) {
      return { problem: `${where}: ${JSON.stringify(extra)}: unknown field` };
    }
    if (typeof url !== "string" || !isHttpUrl(url)) {
      return { problem: `${where}.url: expected an http or https URL` };
    }
    const names = PUSHER_WEBHOOK_EVENTS as readonly unknown[];
    if (!Array.isArray(events) || !events.every((event) => names.includes(event))) {
      return {
        problem: `${where}.events: expected a list of ${PUSHER_WEBHOOK_EVENTS.join(", ")}`,
      };
    }
    hooks.push(Object.freeze({ url: new URL(url).href, events: Object.freeze([...events]) }));
  }
  return Object.freeze(hooks);
}

/** The first app whose `field` repeats an earlier one's, as a problem, or null. */
function duplicate(apps: readonly PusherApp[], field: "id" | "key"): string | null {
  const seen = new Set<string>();
  for (const app of apps) {
    if (seen.has(app[field])) return `${field} ${JSON.stringify(app[field])}: declared twice`;
    seen.add(app[field]);
  }
  return null;
}

/** `app 2` (its place), or `app "id"` once its id is a usable one. */
function appLabel(id: unknown, place: number): string {
  return typeof id === "string" && NAME.test(id) ? `app ${JSON.stringify(id)}` : `app ${place}`;
}

function isWhole(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol } = new URL(text);
  return protocol === "http:" || protocol === "https:";
}

function shown(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
