/**
 * @module
 * Spelling addresses: `host:port` as the banner shows it, the host a client on this machine
 * should dial, and a URL fit for a log line. Pure.
 */

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** `host:port`, `host` alone (then `defaultPort`), or `[ipv6]:port`, as a host and a port; null
 * when it is none of these. The host is not resolved. */
export function parseHostPort(
  raw: string,
  defaultPort: number,
): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s]+))(?::(\d{1,5}))?$/.exec(raw.trim());
  if (match === null) return null;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65535) return null;
  return { host: match[1] ?? match[2]!, port };
}

/** The host to put in a URL for reaching a server bound to `hostname` from this machine: a
 * wildcard address is not something a client can connect to, so it becomes loopback. */
export function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** `url` without the user name and password it may carry, for logs and messages; text that is
 * no URL comes back as it is. */
export function withoutCredentials(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.username === "" && parsed.password === "") return url;
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}
