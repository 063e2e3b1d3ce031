/**
 * @module
 * Every option of the server: its name in each spelling, its default, its help line, and how
 * a raw value (a flag's or environment variable's string, or a config file's JSON value)
 * becomes a typed one. Pure; config.ts merges the sources.
 */

import {
  LOG_FORMATS,
  LOG_LEVELS,
  LOG_OUTPUTS,
  type LogFormat,
  type LogLevel,
  type LogOutput,
} from "./log.ts";
import { patternsProblem } from "./grants.ts";
import { parsePusherApps, type PusherApp } from "./config_pusher_apps.ts";
import { hostPort, parseHostPort } from "./address.ts";

/** Everything the server needs to start, every field resolved. Durations are in seconds. */
export interface Config {
  readonly apiHost: string;
  readonly apiPort: number;
  readonly wsHost: string;
  readonly wsPort: number;
  readonly debug: boolean;
  /** Whether the API listener serves the live dashboard at `/dashboard`. */
  readonly dashboard: boolean;
  readonly requireAuth: boolean;
  readonly tokensFile: string | null;
  readonly tokensUrl: string | null;
  readonly tokenStore: string | null;
  readonly apiKey: readonly string[];
  readonly maxBodyBytes: number;
  /** How long a request body may take to arrive, in seconds. */
  readonly bodyTimeout: number;
  readonly maxFrameBytes: number;
  readonly maxChannelsPerConnection: number;
  readonly maxConnections: number;
  /** Connections not yet authenticated, opening and closing ones included. */
  readonly maxAnonymousConnections: number;
  readonly maxClientMessagesPerSecond: number;
  readonly maxBufferedBytes: number;
  readonly authTimeout: number;
  readonly pingInterval: number;
  readonly shutdownTimeout: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly logOutput: LogOutput;
  /** Cluster mode's Redis (`redis://` or `rediss://`); null runs a standalone server. */
  readonly redisUrl: string | null;
  /** Cluster mode through Sentinel: the sentinels to ask for the master, `host:port` each. */
  readonly redisSentinel: readonly string[];
  /** Cluster mode on a Redis Cluster: some of its servers, `host:port` each. */
  readonly redisCluster: readonly string[];
  /** The name of the master the sentinels monitor (`sentinel monitor <name> ...`). */
  readonly redisSentinelMaster: string | null;
  /** The password the sentinels require, if any. */
  readonly redisSentinelPassword: string | null;
  /** With Sentinel or Redis Cluster: the ACL user and password of the masters (a URL carries
   * them otherwise). */
  readonly redisUsername: string | null;
  readonly redisPassword: string | null;
  /** With Sentinel or Redis Cluster: TLS to every server (a `rediss://` URL otherwise). */
  readonly redisTls: boolean;
  readonly redisPrefix: string;
  /** This node's name in the cluster; null generates one per process. */
  readonly nodeId: string | null;
  readonly nodeTimeout: number;
  readonly reusePort: boolean;
  /** Messages kept per channel for resume; 0 turns history off. */
  readonly historySize: number;
  readonly historyTtl: number;
  /** What all channels' kept messages may cost together, in bytes (per node). */
  readonly historyMaxBytes: number;
  /** HMAC secret for JWT access tokens (HS256/384/512). */
  readonly jwtSecret: string | null;
  /** PEM public key file for JWT access tokens (RS*, PS*, ES*, EdDSA). */
  readonly jwtPublicKey: string | null;
  /** JWKS URL for JWT access tokens. */
  readonly jwksUrl: string | null;
  readonly jwtAudience: string | null;
  readonly jwtIssuer: string | null;
  /** Where webhook batches are POSTed; empty: webhooks off. */
  readonly webhookUrl: readonly string[];
  readonly webhookSecret: string | null;
  readonly webhookVacateDelay: number;
  readonly webhookQueueSize: number;
  /** Origins whose browser requests to the API get CORS headers; may hold `*`. */
  readonly corsOrigin: readonly string[];
  /** Origins a WebSocket upgrade may come from; empty: any. */
  readonly allowedOrigins: readonly string[];
  /** Host names, beyond loopback, that requests may name without an API key; may hold `*`. */
  readonly allowedHosts: readonly string[];
  /** With `requireAuth` off: the channel patterns any connection may publish to. */
  readonly clientPublish: readonly string[];
  /** Largest payload of a client's publication, in bytes of JSON. */
  readonly maxPublishBytes: number;
  /** The channel patterns whose members' comings and goings are pushed to their subscribers. */
  readonly joinLeave: readonly string[];
  /** How long a user's last connection must stay out of a channel before `left` is sent. */
  readonly leaveDelay: number;
  /** The most members a join reply lists. */
  readonly maxMembersListed: number;
  /** Where each client publication is POSTed for the backend's verdict; null: no hook. */
  readonly publishHookUrl: string | null;
  /** How long the publish hook may take to answer, in seconds. */
  readonly publishHookTimeout: number;
  /** The Pusher apps served at `/app/{key}`; empty: no Pusher protocol at all. */
  readonly pusherApps: readonly PusherApp[];
}

/** The configuration used when nothing overrides it: the original Boreas's, plus limits. */
export const DEFAULT_CONFIG: Config = Object.freeze({
  apiHost: "127.0.0.1",
  apiPort: 8001,
  wsHost: "127.0.0.1",
  wsPort: 8002,
  debug: true,
  dashboard: true,
  requireAuth: true,
  tokensFile: null,
  tokensUrl: null,
  tokenStore: null,
  apiKey: Object.freeze([]),
  maxBodyBytes: 1024 * 1024,
  bodyTimeout: 10,
  maxFrameBytes: 64 * 1024,
  maxChannelsPerConnection: 1000,
  maxConnections: 100_000,
  maxAnonymousConnections: 1000,
  maxClientMessagesPerSecond: 50,
  maxBufferedBytes: 4 * 1024 * 1024,
  authTimeout: 60,
  pingInterval: 30,
  shutdownTimeout: 10,
  logLevel: "info",
  logFormat: "text",
  logOutput: "stderr",
  redisUrl: null,
  redisSentinel: Object.freeze([]),
  redisCluster: Object.freeze([]),
  redisSentinelMaster: null,
  redisSentinelPassword: null,
  redisUsername: null,
  redisPassword: null,
  redisTls: false,
  redisPrefix: "boreas",
  nodeId: null,
  nodeTimeout: 15,
  reusePort: false,
  historySize: 0,
  historyTtl: 300,
  historyMaxBytes: 64 * 1024 * 1024,
  jwtSecret: null,
  jwtPublicKey: null,
  jwksUrl: null,
  jwtAudience: null,
  jwtIssuer: null,
  webhookUrl: Object.freeze([]),
  webhookSecret: null,
  webhookVacateDelay: 3,
  webhookQueueSize: 10_000,
  corsOrigin: Object.freeze([]),
  allowedOrigins: Object.freeze([]),
  allowedHosts: Object.freeze([]),
  clientPublish: Object.freeze([]),
  maxPublishBytes: 64 * 1024,
  joinLeave: Object.freeze([]),
  leaveDelay: 3,
  maxMembersListed: 1000,
  publishHookUrl: null,
  publishHookTimeout: 5,
  pusherApps: Object.freeze([]),
});

type Kind =
  | "host"
  | "port"
  | "boolean"
  | "path"
  | "url"
  | "keys"
  | "count"
  | "seconds"
  | "level"
  | "format"
  | "output"
  | "redis-url"
  | "addresses"
  | "servers"
  | "name"
  | "timeout"
  | "size"
  | "secret"
  | "text"
  | "urls"
  | "origins"
  | "hosts"
  | "patterns"
  | "pusher-apps";

/** The kinds of value that are lists: a repeated flag adds to the list. */
export const LIST_KINDS: ReadonlySet<Kind> = new Set<Kind>([
  "keys",
  "urls",
  "origins",
  "hosts",
  "patterns",
  "pusher-apps",
  "addresses",
  "servers",
]);

/** One option: its Config key, the kind of value it takes, and its help. */
export interface OptionSpec {
  readonly key: keyof Config;
  readonly kind: Kind;
  /** The value's name in `--help`, e.g. `PORT`; empty for booleans. */
  readonly placeholder: string;
  readonly summary: string;
  /** The flag's name when it is not the key's (a list whose flag names one item, as
   * `--pusher-app` for `pusherApps`); the environment variable and file key stay the key's. */
  readonly flag?: string;
}

/** Every option, in `--help` order. */
// deno-fmt-ignore
export const OPTIONS: readonly OptionSpec[] = [
  { key: "apiHost", kind: "host", placeholder: "HOST", summary: "address the HTTP API listens on" },
  { key: "apiPort", kind: "port", placeholder: "PORT", summary: "port of the HTTP API (0: any)" },
  { key: "wsHost", kind: "host", placeholder: "HOST", summary: "address the WebSocket listens on" },
  { key: "wsPort", kind: "port", placeholder: "PORT", summary: "port of the WebSocket (0: any)" },
  { key: "debug", kind: "boolean", placeholder: "", summary: "serve /debug/token-dump and /debug/recipient-dump" },
  { key: "dashboard", kind: "boolean", placeholder: "", summary: "serve the live dashboard at /dashboard on the API listener" },
  { key: "requireAuth", kind: "boolean", placeholder: "", summary: "require an access token before a connection may join channels" },
  { key: "tokensFile", kind: "path", placeholder: "PATH", summary: "load tokens at startup from a file, one per line" },
  { key: "tokensUrl", kind: "url", placeholder: "URL", summary: "load tokens at startup with GET: a JSON array or {\"tokens\": [...]}" },
  { key: "tokenStore", kind: "path", placeholder: "PATH", summary: "keep tokens created and revoked through the API in this file, across restarts" },
  { key: "apiKey", kind: "keys", placeholder: "KEY", summary: "require Authorization: Bearer KEY on the API (repeat, or comma-separate, for rotation)" },
  { key: "maxBodyBytes", kind: "count", placeholder: "BYTES", summary: "largest request body the API accepts" },
  { key: "bodyTimeout", kind: "timeout", placeholder: "SECONDS", summary: "how long a request body may take to arrive (then 408)" },
  { key: "maxFrameBytes", kind: "count", placeholder: "BYTES", summary: "largest frame a client may send (larger: closed with 1009)" },
  { key: "maxChannelsPerConnection", kind: "count", placeholder: "N", summary: "channels one connection may join" },
  { key: "maxConnections", kind: "count", placeholder: "N", summary: "open WebSocket connections in all (past it: 503)" },
  { key: "maxAnonymousConnections", kind: "count", placeholder: "N", summary: "WebSocket connections not yet authenticated (past it: 503)" },
  { key: "maxClientMessagesPerSecond", kind: "count", placeholder: "N", summary: "messages a connection may send per second (more: closed with 1008)" },
  { key: "maxBufferedBytes", kind: "count", placeholder: "BYTES", summary: "bytes queued to a subscriber before it is dropped as a slow consumer" },
  { key: "authTimeout", kind: "seconds", placeholder: "SECONDS", summary: "how long a connection may stay anonymous (0: forever)" },
  { key: "pingInterval", kind: "seconds", placeholder: "SECONDS", summary: "ping idle connections this often, and drop dead ones (0: never)" },
  { key: "shutdownTimeout", kind: "seconds", placeholder: "SECONDS", summary: "how long a graceful shutdown may take" },
  { key: "logLevel", kind: "level", placeholder: "LEVEL", summary: `least severe log level shown: ${LOG_LEVELS.join(", ")}` },
  { key: "logFormat", kind: "format", placeholder: "FORMAT", summary: `log line format: ${LOG_FORMATS.join(", ")}` },
  { key: "logOutput", kind: "output", placeholder: "STREAM", summary: `where log lines go: ${LOG_OUTPUTS.join(", ")} (the banner is always on stdout)` },
  { key: "redisUrl", kind: "redis-url", placeholder: "URL", summary: "run as one node of a cluster sharing this Redis: redis://[[user]:password@]host[:port][/db] or rediss://" },
  { key: "redisSentinel", kind: "addresses", placeholder: "HOST:PORT", summary: "run as one node of a cluster whose Redis master these sentinels name, instead of --redis-url (repeatable)" },
  { key: "redisCluster", kind: "servers", placeholder: "HOST:PORT", summary: "run as one node of a cluster sharing this Redis Cluster (some of its servers), instead of --redis-url (repeatable)" },
  { key: "redisSentinelMaster", kind: "name", placeholder: "NAME", summary: "with --redis-sentinel: the name the sentinels monitor the master under" },
  { key: "redisSentinelPassword", kind: "secret", placeholder: "SECRET", summary: "with --redis-sentinel: the password the sentinels require" },
  { key: "redisUsername", kind: "text", placeholder: "USER", summary: "with --redis-sentinel or --redis-cluster: the masters' ACL user (--redis-url carries it in the URL)" },
  { key: "redisPassword", kind: "secret", placeholder: "SECRET", summary: "with --redis-sentinel or --redis-cluster: the masters' password (--redis-url carries it in the URL)" },
  { key: "redisTls", kind: "boolean", placeholder: "", summary: "with --redis-sentinel or --redis-cluster: TLS to every Redis server (--redis-url: rediss://)" },
  { key: "redisPrefix", kind: "name", placeholder: "PREFIX", summary: "start of every Redis key and pub/sub channel of this cluster" },
  { key: "nodeId", kind: "name", placeholder: "ID", summary: "this node's name in /stats, webhook events and the cluster (default: generated per process)" },
  { key: "nodeTimeout", kind: "timeout", placeholder: "SECONDS", summary: "how soon the cluster forgets a node that stopped without saying goodbye" },
  { key: "reusePort", kind: "boolean", placeholder: "", summary: "let several nodes on this host listen on the same ports (SO_REUSEPORT, Linux)" },
  { key: "historySize", kind: "size", placeholder: "N", summary: "messages kept per channel, so that a subscriber can resume after a reconnect (0: history off)" },
  { key: "historyTtl", kind: "timeout", placeholder: "SECONDS", summary: "how long a kept message stays" },
  { key: "historyMaxBytes", kind: "count", placeholder: "BYTES", summary: "what all channels' kept messages may take together; past it the oldest go first" },
  { key: "jwtSecret", kind: "secret", placeholder: "SECRET", summary: "accept JWT access tokens signed with this HMAC secret (HS256, HS384, HS512)" },
  { key: "jwtPublicKey", kind: "path", placeholder: "PATH", summary: "accept JWT access tokens signed for this PEM public key (RS*, PS*, ES*, EdDSA)" },
  { key: "jwksUrl", kind: "url", placeholder: "URL", summary: "accept JWT access tokens signed with a key of this JWKS" },
  { key: "jwtAudience", kind: "text", placeholder: "AUDIENCE", summary: "require this aud claim in JWTs" },
  { key: "jwtIssuer", kind: "text", placeholder: "ISSUER", summary: "require this iss claim in JWTs" },
  { key: "webhookUrl", kind: "urls", placeholder: "URL", summary: "POST signed batches of events (connections, channels occupied and vacated) to this URL (repeatable)" },
  { key: "webhookSecret", kind: "secret", placeholder: "SECRET", summary: "sign webhook batches with this secret (required with --webhook-url)" },
  { key: "webhookVacateDelay", kind: "seconds", placeholder: "SECONDS", summary: "how long a channel must stay empty before channel.vacated is sent" },
  { key: "webhookQueueSize", kind: "count", placeholder: "N", summary: "webhook events queued per URL; past it the oldest are dropped" },
  { key: "corsOrigin", kind: "origins", placeholder: "ORIGIN", summary: "answer browser requests to the API from this origin with CORS headers (repeatable; * for any)" },
  { key: "allowedOrigins", kind: "origins", placeholder: "ORIGIN", summary: "refuse WebSocket upgrades whose Origin is not one of these (repeatable; default: any)" },
  { key: "clientPublish", kind: "patterns", placeholder: "PATTERN", summary: "with --no-require-auth, let any connection publish to channels matching this (repeatable; a trailing * matches any end)" },
  { key: "maxPublishBytes", kind: "count", placeholder: "BYTES", summary: "largest payload a client may publish (larger: an error reply)" },
  { key: "joinLeave", kind: "patterns", placeholder: "PATTERN", summary: "push joined and left events of users to the subscribers of channels matching this (repeatable; a trailing * matches any end)" },
  { key: "leaveDelay", kind: "seconds", placeholder: "SECONDS", summary: "how long a user must stay out of a channel before left is sent" },
  { key: "maxMembersListed", kind: "count", placeholder: "N", summary: "most members a join reply lists (past it: members_truncated)" },
  { key: "publishHookUrl", kind: "url", placeholder: "URL", summary: "POST each client publication, signed, to this URL, which accepts, replaces or rejects it (needs --webhook-secret)" },
  { key: "publishHookTimeout", kind: "timeout", placeholder: "SECONDS", summary: "how long the publish hook may take to answer (then the publication is refused)" },
  { key: "allowedHosts", kind: "hosts", placeholder: "HOST", summary: "without --api-key, answer requests naming this Host besides loopback ones (repeatable; * for any)" },
  { key: "pusherApps", flag: "pusher-app", kind: "pusher-apps", placeholder: "ID:KEY:SECRET", summary: "speak the Pusher protocol at /app/KEY for this app (repeatable; per-app options in the config file)" },
];

/** Turns `apiPort` into `api-port`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flag of `spec`, without its dashes: `api-port`, or `pusher-app`. */
export function specFlag(spec: OptionSpec): string {
  return spec.flag ?? flagName(spec.key);
}

/** Turns `apiPort` into `BOREAS_API_PORT`. */
export function envName(key: string): string {
  return `BOREAS_${flagName(key).replaceAll("-", "_").toUpperCase()}`;
}

/** Turns `apiPort`, `api_port` or `api-port` into `api-port`. */
export function normalizeName(name: string): string {
  return flagName(name).replaceAll("_", "-").toLowerCase();
}

/** A typed value, or what is wrong with the raw one. */
export type Parsed =
  | string
  | number
  | boolean
  | null
  | readonly string[]
  | readonly PusherApp[]
  | { problem: string };

/** Whether `parsed` is a problem rather than a value. */
export function isProblem(parsed: Parsed): parsed is { problem: string } {
  return typeof parsed === "object" && parsed !== null && "problem" in parsed;
}

/** Turns a raw value into the option's type. Flags and environment variables give strings
 * (or string lists, for repeated flags); a config file gives any JSON value. */
export function parseValue(kind: Kind, raw: unknown): Parsed {
  const shown = JSON.stringify(raw) ?? String(raw);
  switch (kind) {
    case "boolean":
      return typeof raw === "boolean" ? raw : parseBoolean(raw);
    case "port":
      return parseInteger(raw, 0, 65535) ?? { problem: `expected 0-65535, got ${shown}` };
    case "count":
      return parseInteger(raw, 1, Number.MAX_SAFE_INTEGER) ??
        { problem: `expected a whole number of at least 1, got ${shown}` };
    case "seconds":
      return parseSeconds(raw) ?? { problem: `expected a number of seconds, got ${shown}` };
    case "host":
      return typeof raw === "string" && isHost(raw)
        ? raw
        : { problem: `expected a host name or IP address, got ${shown}` };
    case "path":
      return typeof raw === "string" && raw.trim() !== ""
        ? raw
        : { problem: `expected a non-empty string, got ${shown}` };
    case "url":
      return parseHttpUrl(raw) ??
        { problem: `expected an http or https URL, got ${redactUrl(raw) ?? shown}` };
    case "keys":
      return parseKeys(raw) ??
        { problem: "expected keys of printable characters without spaces or commas" };
    case "level":
      return oneOf(LOG_LEVELS, raw, shown);
    case "format":
      return oneOf(LOG_FORMATS, raw, shown);
    case "output":
      return oneOf(LOG_OUTPUTS, raw, shown);
    case "redis-url":
      return parseRedisUrl(raw);
    case "addresses":
      return parseAddresses(raw, SENTINEL_PORT);
    case "servers":
      return parseAddresses(raw, REDIS_PORT);
    case "name":
      return typeof raw === "string" && NAME.test(raw)
        ? raw
        : { problem: `expected 1-64 characters of A-Z a-z 0-9 . _ -, got ${shown}` };
    case "secret":
      // Never echoed: it is a secret.
      return typeof raw === "string" && raw !== ""
        ? raw
        : { problem: "expected a non-empty secret" };
    case "text":
      return typeof raw === "string" && raw !== ""
        ? raw
        : { problem: `expected a non-empty string, got ${shown}` };
    case "origins":
      return parseOrigins(raw) ??
        { problem: "expected origins such as https://app.example.com (scheme, host, port), or *" };
    case "urls":
      return parseUrls(raw) ?? { problem: "expected http or https URLs" };
    case "hosts":
      return parseHosts(raw);
    case "patterns":
      return parsePatterns(raw);
    case "pusher-apps":
      return parsePusherApps(raw);
    case "size":
      return parseInteger(raw, 0, 1_000_000) ??
        { problem: `expected a whole number from 0 to 1000000, got ${shown}` };
    case "timeout": {
      const seconds = parseSeconds(raw);
      return seconds !== null && seconds > 0
        ? seconds
        : { problem: `expected a number of seconds above 0, got ${shown}` };
    }
  }
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case. */
export function parseBoolean(raw: unknown): boolean | { problem: string } {
  const word = typeof raw === "string" ? raw.trim().toLowerCase() : undefined;
  if (word !== undefined && TRUE_WORDS.has(word)) return true;
  if (word !== undefined && FALSE_WORDS.has(word)) return false;
  return { problem: `expected true or false, got ${JSON.stringify(raw)}` };
}

function parseInteger(raw: unknown, min: number, max: number): number | null {
  const value = typeof raw === "number"
    ? raw
    : typeof raw === "string" && /^\s*\d+\s*$/.test(raw)
    ? Number(raw)
    : NaN;
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}

function parseSeconds(raw: unknown): number | null {
  const value = typeof raw === "number"
    ? raw
    : typeof raw === "string" && /^\s*\d+(\.\d+)?\s*$/.test(raw)
    ? Number(raw)
    : NaN;
  // setTimeout cannot wait longer than 2^31-1 ms.
  return Number.isFinite(value) && value >= 0 && value * 1000 <= 2 ** 31 - 1 ? value : null;
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i;

/** A DNS name, an IPv4 address, or an IPv6 address (which has colons). */
function isHost(raw: string): boolean {
  if (raw.includes(":")) {
    return /^[0-9a-f:.]+(%\w+)?$/i.test(raw) && URL.canParse(`http://[${raw}]/`);
  }
  return HOST_NAME.test(raw) && raw.length <= 253;
}

function parseHttpUrl(raw: unknown): string | null {
  if (typeof raw !== "string" || !URL.canParse(raw)) return null;
  const url = new URL(raw);
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

/** A list of origins (`scheme://host[:port]`, or `*`) from a repeated flag, a comma-separated
 * string, or a JSON array. */
function parseOrigins(raw: unknown): readonly string[] | null {
  const origins: string[] = [];
  for (const part of listItems(raw)) {
    if (typeof part !== "string") return null;
    const origin = part.trim();
    if (origin !== "*" && !(URL.canParse(origin) && new URL(origin).origin === origin)) return null;
    origins.push(origin);
  }
  return Object.freeze(origins);
}

/** A list of http(s) URLs from a repeated flag, a comma-separated string, or a JSON array. */
function parseUrls(raw: unknown): readonly string[] | null {
  const urls: string[] = [];
  for (const part of listItems(raw)) {
    const url = typeof part === "string" ? parseHttpUrl(part.trim()) : null;
    if (url === null) return null;
    urls.push(url);
  }
  return Object.freeze(urls);
}

/** A list of host names and IP addresses (IPv6 with or without brackets), or `*`, from a
 * repeated flag, a comma-separated string, or a JSON array. */
function parseHosts(raw: unknown): Parsed {
  const hosts: string[] = [];
  for (const part of listItems(raw)) {
    const host = typeof part === "string" ? part.trim() : part;
    if (host !== "*" && !(typeof host === "string" && isHost(host.replace(/^\[(.*)\]$/, "$1")))) {
      const shown = JSON.stringify(host) ?? String(host);
      return { problem: `expected host names or IP addresses without a port, or *, got ${shown}` };
    }
    hosts.push(host);
  }
  return Object.freeze(hosts);
}

/** Channel patterns (names, with an optional trailing `*`) from a repeated flag, a
 * comma-separated string, or a JSON array. */
function parsePatterns(raw: unknown): Parsed {
  const items = listItems(raw).map((part) => typeof part === "string" ? part.trim() : part);
  const problem = patternsProblem(items, "pattern");
  return problem === null
    ? Object.freeze(items as string[])
    : { problem: `expected channel patterns: ${problem}` };
}

/** The items of a repeated flag's values, a comma-separated string, or a JSON array. */
function listItems(raw: unknown): unknown[] {
  return (Array.isArray(raw) ? raw : [raw]).flatMap((part) =>
    typeof part === "string" ? part.split(",") : [part]
  );
}

/** The default ports of a sentinel and of a Redis server. */
const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;

/** `host:port` addresses (`defaultPort` when left out) from a repeated flag, a
 * comma-separated string, or a JSON array; each comes back as `host:port`. */
function parseAddresses(raw: unknown, defaultPort: number): Parsed {
  const addresses: string[] = [];
  for (const part of listItems(raw)) {
    const parsed = typeof part === "string" ? parseHostPort(part, defaultPort) : null;
    if (parsed === null || !isHost(parsed.host)) {
      const shown = JSON.stringify(part) ?? String(part);
      return { problem: `expected HOST:PORT addresses, got ${shown}` };
    }
    addresses.push(hostPort(parsed.host, parsed.port));
  }
  return Object.freeze(addresses);
}

/** Node ids and key prefixes: no spaces, braces or colons, so that Redis keys built from them
 * stay readable and their hash tags are the channel's. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** A `redis://` or `rediss://` URL with a host, an optional port and an optional numeric
 * database; the problem never shows the password. */
function parseRedisUrl(raw: unknown): Parsed {
  // An unparsable URL may still hold a password: never echo one with an `@`.
  const shown = redactUrl(raw) ??
    (typeof raw === "string" && raw.includes("@")
      ? "a URL with credentials (not shown)"
      : JSON.stringify(raw) ?? String(raw));
  const fail = (why: string) => ({ problem: `${why}, got ${shown}` });
  if (typeof raw !== "string" || !URL.canParse(raw)) {
    return fail("expected redis://[[user]:password@]host[:port][/db] or rediss://...");
  }
  const url = new URL(raw);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return fail("expected a redis:// or rediss:// URL");
  }
  if (url.hostname === "") return fail("expected a host");
  if (url.pathname !== "" && !/^\/\d{0,2}$/.test(url.pathname)) {
    return fail("expected a database number 0-99 as the path");
  }
  if (url.search !== "" || url.hash !== "") return fail("expected no query or fragment");
  return raw;
}

/** The quoted URL without its password, or `null` when `raw` is no URL with one. */
function redactUrl(raw: unknown): string | null {
  if (typeof raw !== "string" || !URL.canParse(raw)) return null;
  const url = new URL(raw);
  if (url.password === "") return null;
  url.password = "***";
  return JSON.stringify(url.href);
}

/** A list from a repeated flag, a comma-separated string, or a JSON array. Never echoes the
 * keys: they are secrets. */
function parseKeys(raw: unknown): readonly string[] | null {
  const parts = Array.isArray(raw) ? raw : [raw];
  const keys: string[] = [];
  for (const part of parts) {
    if (typeof part !== "string") return null;
    for (const key of part.split(",")) {
      if (!/^[\x21-\x7e]+$/.test(key.trim())) return null;
      keys.push(key.trim());
    }
  }
  return Object.freeze(keys);
}

function oneOf<T extends string>(allowed: readonly T[], raw: unknown, shown: string): Parsed {
  return allowed.includes(raw as T)
    ? raw as T
    : { problem: `expected one of ${allowed.join(", ")}, got ${shown}` };
}
