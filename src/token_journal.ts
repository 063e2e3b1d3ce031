/**
 * @module
 * The token store's file (`--token-store`): an append-only journal of `+TOKEN` and `-TOKEN`
 * lines (`+TOKEN<tab>{grant}` for a token minted with grants) and of blocked users
 * (`!{"block": USER, "expires_at": N | null}`, `!{"unblock": USER}`), flushed to disk before
 * each change is acknowledged, and compacted at startup, without the tokens and blocks that have
 * expired. A torn last line (a crash mid-write) is dropped: it was never acknowledged. Knows
 * nothing of HTTP.
 */

import { type Block, isBlockOver } from "./blocks.ts";
import { decodeGrant, encodeGrant, isExpired, isOpenGrant, type TokenGrant } from "./grants.ts";
import { parseJsonObject } from "./text.ts";

/** Where token changes are made durable. */
export interface TokenJournal extends AsyncDisposable {
  /** Appends one change and flushes it to disk; resolves once it is durable. Changes are
   * written in call order. */
  append(change: "add" | "revoke", token: string, grant?: TokenGrant): Promise<void>;
}

/** Where blocks of users are made durable. */
export interface BlockJournal {
  /** Appends `user`'s block, or its end (`null`), and flushes it to disk; resolves once it is
   * durable. Written in call order with the token changes. */
  appendBlock(user: string, block: Block | null): Promise<void>;
}

/** What a journal file held. */
export interface JournalContents {
  /** Tokens whose last change was `+`: valid. */
  readonly tokens: string[];
  /** Tokens whose last change was `-`: revoked, even when a token provider lists them. */
  readonly revoked: string[];
  /** Lines that were neither `+TOKEN` nor `-TOKEN`, or a torn last line. */
  readonly skipped: number;
  /** What each valid token minted with grants grants. */
  readonly grants: ReadonlyMap<string, TokenGrant>;
  /** The users blocked and not yet unblocked, with their blocks, those over left out. */
  readonly blocks: ReadonlyMap<string, Block>;
}

/** Replays journal text: `+T` makes T valid, `-T` revoked; `!{"block": U, ...}` blocks U and
 * `!{"unblock": U}` ends it; the last change wins. The last line counts only when it ends with a
 * newline. */
export function replayJournal(text: string, nowSeconds = Date.now() / 1000): JournalContents {
  const last = new Map<string, "+" | "-">();
  const grants = new Map<string, TokenGrant>();
  const blocks = new Map<string, Block>();
  // A file edited on Windows may end its lines with \r\n.
  const lines = text.split(/\r?\n/);
  // The text after the last newline is a torn write (or empty).
  const torn = lines.pop() ?? "";
  let skipped = torn === "" ? 0 : 1;
  for (const line of lines) {
    if (line.startsWith("!")) {
      if (!replayBlockLine(line.slice(1), blocks)) skipped++;
      continue;
    }
    const change = line[0];
    const tab = line.indexOf("\t");
    const token = line.slice(1, tab === -1 ? undefined : tab);
    const grant = tab === -1 ? undefined : decodeGrant(line.slice(tab + 1));
    if ((change === "+" || change === "-") && isJournalToken(token) && grant !== null) {
      if (grant === undefined) grants.delete(token);
      else grants.set(token, grant);
      // A token minted and then revoked through the API is gone for good: forget it, so the
      // file does not grow with every revocation. Only a revoked provider token stays "-".
      const wasAdded = last.get(token) === "+";
      // Delete first so that the map's order is the order of each token's last change.
      last.delete(token);
      if (!(change === "-" && wasAdded)) last.set(token, change);
    } else {
      skipped++;
    }
  }
  const tokens: string[] = [];
  const revoked: string[] = [];
  for (const [token, change] of last) {
    const grant = grants.get(token);
    if (change === "-") revoked.push(token);
    else if (grant === undefined || !isExpired(grant, nowSeconds)) tokens.push(token);
    else grants.delete(token);
  }
  for (const token of revoked) grants.delete(token);
  for (const [user, block] of blocks) if (isBlockOver(block, nowSeconds)) blocks.delete(user);
  return { tokens, revoked, skipped, grants, blocks };
}

/** Applies one `!` line's JSON to `blocks`; false when it is not a block change. */
function replayBlockLine(text: string, blocks: Map<string, Block>): boolean {
  const value = parseJsonObject(text);
  if (value === null) return false;
  const { block, unblock, expires_at: expiresAt } = value;
  if (typeof unblock === "string") {
    blocks.delete(unblock);
    return true;
  }
  if (typeof block !== "string") return false;
  if (!(expiresAt === null || typeof expiresAt === "number")) return false;
  blocks.delete(block);
  blocks.set(block, { expiresAt });
  return true;
}

/** The `!` line of `user`'s block, or of its end. */
function blockLine(user: string, block: Block | null): string {
  return `!${
    JSON.stringify(
      block === null ? { unblock: user } : { block: user, "expires_at": block.expiresAt },
    )
  }`;
}

/** The `+` line of `token`, with its grant unless it is the open one. */
function addLine(token: string, grant: TokenGrant | undefined): string {
  return grant === undefined || isOpenGrant(grant)
    ? `+${token}`
    : `+${token}\t${encodeGrant(grant)}`;
}

function isJournalToken(token: string): boolean {
  return token.length > 0 && !/\s/.test(token);
}

const FILE_MODE = 0o600;
const UTF8 = new TextEncoder();

/** Opens the journal at `path`: reads it (a missing file is empty), rewrites it compacted, with
 * mode 0600, and keeps it open for appending. Returns the journal and what it held. */
export async function openTokenJournal(
  path: string,
): Promise<{ journal: TokenJournal & BlockJournal; contents: JournalContents }> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const contents = replayJournal(text);
  await writeCompacted(path, contents);
  const file = await Deno.open(path, { append: true, mode: FILE_MODE });
  return { journal: new FileJournal(file), contents };
}

/** Writes the replayed contents to a temporary file, flushes it and renames it over `path`, so a crash
 * leaves either the old journal or the new one. */
async function writeCompacted(path: string, contents: JournalContents): Promise<void> {
  const text = contents.tokens.map((token) => `${addLine(token, contents.grants.get(token))}\n`)
    .join("") +
    contents.revoked.map((token) => `-${token}\n`).join("") +
    [...contents.blocks].map(([user, block]) => `${blockLine(user, block)}\n`).join("");
  const temporary = `${path}.tmp`;
  const file = await Deno.open(temporary, {
    write: true,
    create: true,
    truncate: true,
    mode: FILE_MODE,
  });
  try {
    await writeAll(file, UTF8.encode(text));
    await file.sync();
  } finally {
    file.close();
  }
  // `mode` applies only to newly created files; an older file keeps its mode otherwise.
  if (Deno.build.os !== "windows") await Deno.chmod(temporary, FILE_MODE);
  await Deno.rename(temporary, path);
  await syncDirectory(path);
}

/** Flushes the directory holding `path`, so that a rename in it survives a power cut. Not
 * possible on Windows, where renames are durable through the file system's own journal. */
async function syncDirectory(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const slash = path.lastIndexOf("/");
  const directory = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const handle = await Deno.open(directory, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

class FileJournal implements TokenJournal, BlockJournal {
  readonly #file: Deno.FsFile;
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  append(change: "add" | "revoke", token: string, grant?: TokenGrant): Promise<void> {
    return this.#write(change === "add" ? addLine(token, grant) : `-${token}`);
  }

  appendBlock(user: string, block: Block | null): Promise<void> {
    return this.#write(blockLine(user, block));
  }

  #write(text: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("token journal is closed"));
    const line = UTF8.encode(`${text}\n`);
    const write = this.#tail.then(async () => {
      await writeAll(this.#file, line);
      await this.#file.syncData();
    });
    // One failed write must not block the ones after it.
    this.#tail = write.catch(() => {});
    return write;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail;
    this.#file.close();
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}
