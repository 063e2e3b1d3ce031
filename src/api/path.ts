/**
 * @module
 * The path side of routing, kept cheap because it runs on every API request: a request URL's
 * pathname without a full URL parse when the parse could not change it, and route templates
 * such as `/broadcast/:channel` compiled once to regular expressions.
 */

/** A path the WHATWG URL parser leaves as it is: only characters it does not percent-encode,
 * and no segment starting with `.` or `%2e` (a dot segment, which it would resolve). */
const PLAIN_PATH = /^(?:\/(?![.]|%2e)[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)+$/i;
/** Only http and https: other schemes parse their paths differently (`file://C:/x`). */
const HTTP_SCHEME = /^https?:\/\//i;
/** An authority that cannot hide a `?`, `#`, `\` or userinfo; whether the URL parser accepts
 * it (a port past 65535, a malformed IPv6 address) is asked once per distinct origin. */
const PLAIN_AUTHORITY = /^[A-Za-z0-9.\-:[\]]+$/;
const MAX_KNOWN_ORIGINS = 64;
const knownOrigins = new Map<string, boolean>();

/** The pathname of `url`, equal to `new URL(url).pathname` (and throwing as it throws). A
 * request URL built from the request line is already in the shape the parser keeps most of
 * the time; only then is it sliced instead of parsed. */
export function pathnameOf(url: string): string {
  const authorityStart = url.indexOf("://") + 3;
  const pathStart = url.indexOf("/", authorityStart);
  if (authorityStart > 2 && pathStart > authorityStart) {
    let pathEnd = url.length;
    for (let i = pathStart; i < url.length; i++) {
      const char = url.charCodeAt(i);
      if (char === 0x3f || char === 0x23) { // `?` or `#`
        pathEnd = i;
        break;
      }
    }
    const path = url.slice(pathStart, pathEnd);
    if (PLAIN_PATH.test(path) && isParsableOrigin(url.slice(0, pathStart), authorityStart)) {
      return path;
    }
  }
  return new URL(url).pathname;
}

function isParsableOrigin(origin: string, authorityStart: number): boolean {
  let isParsable = knownOrigins.get(origin);
  if (isParsable === undefined) {
    isParsable = HTTP_SCHEME.test(origin) && PLAIN_AUTHORITY.test(origin.slice(authorityStart)) &&
      URL.canParse(origin);
    // Clients choose the Host header: keep the memo small rather than let it grow.
    if (knownOrigins.size >= MAX_KNOWN_ORIGINS) knownOrigins.clear();
    knownOrigins.set(origin, isParsable);
  }
  return isParsable;
}

/** A route template compiled for matching pathnames. */
export interface PathMatcher {
  /** The raw (still percent-encoded) parameter values by name, or null when `pathname` does
   * not match. */
  match(pathname: string): Record<string, string> | null;
}

const PARAMETER = /^:([A-Za-z_][A-Za-z0-9_]*)$/;
/** Literal segments use only characters that URLPattern and the URL parser take as they are. */
const LITERAL = /^[A-Za-z0-9\-._~]+$/;

/** Compiles `template`: one or more `/`-separated segments, each a literal of unreserved
 * characters (`A-Z a-z 0-9 - . _ ~`) or a whole-segment `:name` parameter that matches one
 * non-empty segment; a trailing slash is optional. This is the part of URLPattern's syntax the
 * routes use, and it matches as URLPattern would; anything else throws. */
export function compilePath(template: string): PathMatcher {
  const names: string[] = [];
  const source = template.split("/").slice(1).map((segment) => {
    const parameter = PARAMETER.exec(segment);
    if (parameter === null) {
      if (!LITERAL.test(segment) || segment === "." || segment === "..") {
        throw new Error(`route ${template}: bad segment "${segment}"`);
      }
      return `/${segment.replace(/[.]/g, "\\.")}`;
    }
    if (names.includes(parameter[1]!)) {
      throw new Error(`route ${template}: parameter ${segment} appears twice`);
    }
    names.push(parameter[1]!);
    return "/([^/]+?)";
  }).join("");
  if (!template.startsWith("/") || source === "") {
    throw new Error(`route ${template}: expected "/" and at least one segment`);
  }
  const pattern = new RegExp(`^${source}/?$`);
  return {
    match(pathname) {
      const found = pattern.exec(pathname);
      if (found === null) return null;
      const params: Record<string, string> = {};
      names.forEach((name, i) => params[name] = found[i + 1]!);
      return params;
    },
  };
}
