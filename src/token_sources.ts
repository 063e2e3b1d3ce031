/**
 * @module
 * Token providers, the "backend agnostic" part of authentication: the tokens loaded at startup
 * from a file or a URL. Problems come back as a `ConfigError` naming the option. Knows nothing
 * of the hub or the server.
 */

import { withoutCredentials } from "./address.ts";
import type { Block } from "./blocks.ts";
import type { TokenGrant } from "./grants.ts";
import { type Config, ConfigError } from "./config.ts";
import { type BlockJournal, openTokenJournal, type TokenJournal } from "./token_journal.ts";
import { errorMessage } from "./text.ts";

/** The tokens a provider gave, and the provider's name for the banner. */
export interface LoadedTokens {
  /** `none`, `--tokens-file PATH` or `--tokens-url URL` (without credentials). */
  readonly provider: string;
  readonly tokens: readonly string[];
}

/** The startup tokens from the provider and the token store, and the open store. */
export interface StartupTokens extends LoadedTokens {
  /** The open `--token-store` journal, for the server to own and close; undefined without
   * one. */
  readonly journal: (TokenJournal & BlockJournal) | undefined;
  /** Torn or malformed lines the token store skipped. */
  readonly skippedLines: number;
  /** What the token store's tokens minted with grants grant. */
  readonly grants: ReadonlyMap<string, TokenGrant>;
  /** The users the token store keeps blocked. */
  readonly blocks: ReadonlyMap<string, Block>;
}

/** Loads the provider's tokens, then opens the token store (compacting it) and applies what
 * it holds: its tokens are added, its revocations remove provider tokens too, its blocks
 * stand. Throws
 * `ConfigError` naming the option that failed. */
export async function loadStartupTokens(
  config: Pick<Config, "tokensFile" | "tokensUrl" | "tokenStore">,
  options: LoadTokensOptions = {},
): Promise<StartupTokens> {
  const loaded = await loadTokens(config, options);
  if (config.tokenStore === null) {
    return { ...loaded, journal: undefined, skippedLines: 0, grants: new Map(), blocks: new Map() };
  }
  const path = config.tokenStore;
  let opened;
  try {
    opened = await openTokenJournal(path);
  } catch (error) {
    throw new ConfigError([
      `--token-store: cannot open ${JSON.stringify(path)}: ${errorMessage(error)}`,
    ]);
  }
  const { tokens: stored, revoked, skipped } = opened.contents;
  const tokens = new Set([...loaded.tokens, ...stored]);
  for (const token of revoked) tokens.delete(token);
  return {
    provider: loaded.provider,
    tokens: [...tokens],
    journal: opened.journal,
    skippedLines: skipped,
    grants: opened.contents.grants,
    blocks: opened.contents.blocks,
  };
}

/** Options of `loadTokens`. */
export interface LoadTokensOptions {
  /** How long the tokens URL may take to answer, in milliseconds. Default 10 000. */
  timeoutMs?: number;
}

/** Loads the startup tokens from the provider `config` names, if any. Throws `ConfigError`
 * when the file cannot be read, the URL does not answer 2xx with the expected JSON, or a token
 * is malformed. */
export async function loadTokens(
  config: Pick<Config, "tokensFile" | "tokensUrl">,
  options: LoadTokensOptions = {},
): Promise<LoadedTokens> {
  if (config.tokensFile !== null) {
    const path = config.tokensFile;
    return { provider: `--tokens-file ${path}`, tokens: await readTokensFile(path) };
  }
  if (config.tokensUrl !== null) {
    const url = config.tokensUrl;
    const tokens = await fetchTokens(url, options.timeoutMs ?? 10_000);
    return { provider: `--tokens-url ${withoutCredentials(url)}`, tokens };
  }
  return { provider: "none", tokens: [] };
}

/** Parses a tokens file: one token per line; blank lines and lines starting with `#` are
 * skipped, surrounding white space is trimmed. Throws `ConfigError` on a token with white space
 * inside. */
export function parseTokensFile(text: string, label = "--tokens-file"): string[] {
  const tokens: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/\s/.test(line)) {
      throw new ConfigError([`${label}: line ${i + 1}: expected one token without spaces`]);
    }
    tokens.push(line);
  }
  return tokens;
}

async function readTokensFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError([
      `--tokens-file: cannot read ${JSON.stringify(path)}: ${errorMessage(error)}`,
    ]);
  }
  return parseTokensFile(text);
}

async function fetchTokens(url: string, timeoutMs: number): Promise<string[]> {
  const fail = (problem: string) =>
    new ConfigError([`--tokens-url: ${withoutCredentials(url)}: ${problem}`]);
  let body: unknown;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      throw fail(`expected a 2xx answer, got ${response.status}`);
    }
    body = await response.json();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof SyntaxError) throw fail("expected a JSON body");
    throw fail(`request failed: ${errorMessage(error)}`);
  }
  const list = Array.isArray(body) ? body : (body as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw fail('expected a JSON array of strings or {"tokens": [...]}');
  const bad = list.findIndex((token) => typeof token !== "string" || !/^\S+$/.test(token));
  if (bad !== -1) throw fail(`tokens[${bad}]: expected a non-empty string without spaces`);
  return list as string[];
}
