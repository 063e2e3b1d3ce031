/**
 * @module
 * Which `Host` a request may name, against DNS rebinding: a page whose own host name an attacker
 * points at 127.0.0.1 reaches a loopback listener as same-origin, but still sends that name as
 * `Host`. Both listeners use this check when no API key guards them. Pure; knows nothing of
 * which routes or upgrades it guards.
 */

/** How many `Host` values a `HostCheck` remembers its answer for; past that it starts again,
 * so a client that sends many costs a parse each, never memory. */
const MAX_REMEMBERED = 64;

/** Host names (with any port) a listener answers on top of the loopback ones. */
export class HostCheck {
  readonly #names: ReadonlySet<string>;
  readonly #isAnyHost: boolean;
  // The answer for each `Host` value seen lately (null: allowed). The answer depends on the
  // value alone, and parsing it costs a `new URL()` on every request otherwise.
  readonly #answers = new Map<string, string | null>();

  /** `allowedHosts` as `--allowed-hosts` takes them: names or IP addresses without a port
   * (IPv6 with or without brackets), or `*` for any host. */
  constructor(allowedHosts: readonly string[]) {
    this.#isAnyHost = allowedHosts.includes("*");
    this.#names = new Set(
      allowedHosts.map((host) => hostNameOf(bracketed(host))).filter((name) => name !== null),
    );
  }

  /** Why `request` may not be answered (`host: "…" is not allowed …`), or undefined when its
   * `Host` is loopback, allowed, or missing (only a non-browser client omits it). */
  refusal(request: Request): string | undefined {
    const host = request.headers.get("host");
    if (host === null || host === "" || this.#isAnyHost) return undefined;
    let answer = this.#answers.get(host);
    if (answer === undefined) {
      answer = this.#answerFor(host);
      if (this.#answers.size >= MAX_REMEMBERED) this.#answers.clear();
      this.#answers.set(host, answer);
    }
    return answer ?? undefined;
  }

  #answerFor(host: string): string | null {
    const name = hostNameOf(host);
    if (name !== null && (isLoopbackName(name) || this.#names.has(name))) return null;
    return `host: ${JSON.stringify(host)} is not allowed (see --allowed-hosts)`;
  }
}

/** Whether `host` (a name or an IP address as `--api-host` takes it, IPv6 with or without
 * brackets) only reaches this machine: `localhost`, a name under `.localhost`, 127.0.0.0/8,
 * or ::1. */
export function isLoopback(host: string): boolean {
  const name = hostNameOf(bracketed(host));
  return name !== null && isLoopbackName(name);
}

/** `host` with an IPv6 address put in brackets, as a `Host` header spells it. */
function bracketed(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The host name of a `Host` header value (a name, an IPv4 address or a bracketed IPv6
 * address, then an optional port) as a URL spells it: lower case, IP addresses in their
 * canonical form, without a trailing dot; null when the value is no such thing. */
function hostNameOf(host: string): string | null {
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:\d{0,5})?$/i.test(host)) return null;
  try {
    return new URL(`http://${host}/`).hostname.replace(/\.$/, "");
  } catch {
    return null;
  }
}

function isLoopbackName(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost") || /^127(\.\d+){3}$/.test(name) ||
    name === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(name);
}
