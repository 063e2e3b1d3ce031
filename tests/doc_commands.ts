/**
 * @module
 * The commands the docs show, read from the Markdown itself, and the comparison of what they
 * print with what the docs show. In a `console` block, `$ COMMAND` is typed at a shell (a line
 * ending in `\` goes on to the next), the lines after it are what it prints, `> TEXT` is typed
 * at a WebSocket terminal's prompt and `< TEXT` is a line that terminal prints; a block with a
 * `title` (```` ```console title="alice" ````) is typed in the terminal of that name. Values that
 * differ on every run (tokens, an expiry, an epoch, a node id) are matched by their shape, and
 * a value shown again stands for the same real value; documented ports stand for real ones.
 */

import assert from "node:assert/strict";

/** One step of a `console` block. */
export interface DocStep {
  /** `command` (`$ `), `send` (`> `) or `receive` (`< `). */
  readonly kind: "command" | "send" | "receive";
  /** The command, with its continuation lines; the frame typed after `> `; or, for `receive`,
   * the whole line, `< ` included, as the terminal prints it. */
  readonly text: string;
  /** What the docs show a command printing, line by line; empty for frames. */
  readonly output: readonly string[];
  /** `FILE:LINE` of the step, for messages. */
  readonly where: string;
  /** The terminal it is typed in or printed by: its block's `title`, `""` for a block without
   * one. */
  readonly terminal: string;
}

/** Where to read steps from. */
export interface StepsOptions {
  /** The file's name, for messages, e.g. `README.md`. */
  readonly source: string;
  /** A heading line, e.g. `## Quick start`: only the blocks up to the next heading of the same
   * or a higher level count. Default: the whole file. */
  readonly heading?: string;
}

interface Block {
  readonly line: number;
  readonly info: string;
  /** The `title="..."` of the info string, `""` without one. */
  readonly title: string;
  readonly lines: string[];
}

interface Heading {
  readonly line: number;
  readonly level: number;
  readonly text: string;
}

/** The steps of the `console` blocks of `markdown` (or of one section), in order. Throws when
 * the heading is missing or repeated, when a block's lines do not parse, or when the section
 * shows no `$` command: a moved or emptied section must not pass unnoticed. */
export function consoleSteps(markdown: string, { source, heading }: StepsOptions): DocStep[] {
  const { blocks, headings } = parseMarkdown(markdown, source);
  let [first, end] = [0, Infinity];
  if (heading !== undefined) {
    const found = headings.filter((h) => `${"#".repeat(h.level)} ${h.text}` === heading);
    if (found.length !== 1) {
      throw new Error(
        `${source}: expected one heading ${JSON.stringify(heading)}, found ${found.length}`,
      );
    }
    const [{ line, level }] = found as [Heading];
    first = line;
    end = headings.find((h) => h.line > line && h.level <= level)?.line ?? Infinity;
  }
  const steps = blocks
    .filter((block) => block.info === "console" && block.line > first && block.line < end)
    .flatMap((block) => blockSteps(block, source));
  if (!steps.some((step) => step.kind === "command")) {
    throw new Error(
      `${source}: no \`$\` command in a console block under ${heading ?? "any heading"}`,
    );
  }
  return steps;
}

function parseMarkdown(markdown: string, source: string) {
  const blocks: Block[] = [];
  const headings: Heading[] = [];
  let open: (Block & { indent: number }) | null = null;
  markdown.split("\n").forEach((text, index) => {
    const fence = /^( *)```(\S*)(.*)$/.exec(text);
    if (open !== null) {
      if (fence !== null && fence[2] === "" && fence[3]!.trim() === "") {
        blocks.push(open);
        open = null;
      } else {
        open.lines.push(text.slice(open.indent));
      }
    } else if (fence !== null) {
      const title = /(?:^|\s)title="([^"]*)"/.exec(fence[3]!)?.[1] ?? "";
      open = { line: index + 1, info: fence[2]!, title, lines: [], indent: fence[1]!.length };
    } else {
      const match = /^(#{1,6}) (.+)$/.exec(text);
      if (match) headings.push({ line: index + 1, level: match[1]!.length, text: match[2]! });
    }
  });
  if (open !== null) throw new Error(`${source}:${(open as Block).line}: unclosed code block`);
  return { blocks, headings };
}

function blockSteps(block: Block, source: string): DocStep[] {
  const steps: Array<Omit<DocStep, "text" | "output"> & { text: string; output: string[] }> = [];
  const { title: terminal } = block;
  let isContinued = false;
  block.lines.forEach((text, index) => {
    const where = `${source}:${block.line + 1 + index}`;
    const last = steps.at(-1);
    if (isContinued && last !== undefined) {
      last.text += `\n${text}`;
    } else if (text.startsWith("$ ")) {
      steps.push({ kind: "command", text: text.slice(2), output: [], where, terminal });
    } else if (text.startsWith("> ")) {
      steps.push({ kind: "send", text: text.slice(2), output: [], where, terminal });
    } else if (text.startsWith("< ")) {
      steps.push({ kind: "receive", text, output: [], where, terminal });
    } else if (last?.kind === "command") {
      last.output.push(text);
    } else {
      throw new Error(`${where}: ${JSON.stringify(text)} follows no \`$\` command`);
    }
    isContinued = text.endsWith("\\") && steps.at(-1)?.kind === "command" &&
      steps.at(-1)?.output.length === 0;
  });
  return steps;
}

/** The values that differ from run to run, as the docs show them, and the shape of a real one. */
const VARYING: ReadonlyArray<{ readonly shown: string; readonly shape: string }> = [
  // A whole token, or one elided with `...`: `I4my...-1361390859`, `"I4myiMMyKWLB..."`.
  {
    shown: String.raw`[A-Za-z0-9]{128}-\d+|[A-Za-z0-9]+\.\.\.-\d+|(?<=")[A-Za-z0-9]+\.\.\.(?=")`,
    shape: String.raw`[A-Za-z0-9]{128}-\d+`,
  },
  { shown: String.raw`(?<="expires_at": )\d+`, shape: String.raw`\d+` },
  { shown: String.raw`(?<="epoch": ")[0-9a-f]+(?=")`, shape: "[0-9a-f]{16}" },
  { shown: String.raw`(?<=^Cluster mode: node )[0-9a-f]{12}(?=,)`, shape: "[0-9a-f]{12}" },
];
const VARYING_SHOWN = new RegExp(
  VARYING.map(({ shown }, i) => `(?<k${i}>${shown})`).join("|"),
  "gm",
);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether `a` and `b` may be the same token, one of them or both elided (`head...tail`). */
function isElidedForm(a: string, b: string): boolean {
  if (!a.includes("...") && !b.includes("...")) return false;
  const ends = (text: string) => {
    const [head = "", tail = text] = text.split("...");
    return { head, tail };
  };
  const [x, y] = [ends(a), ends(b)];
  return (x.head.startsWith(y.head) || y.head.startsWith(x.head)) &&
    (x.tail.endsWith(y.tail) || y.tail.endsWith(x.tail));
}

/** What one reader's session has seen so far: which real port each documented one stands for,
 * and which real value each varying value shown stands for. */
export class DocSession {
  readonly #ports = new Map<number, number>();
  readonly #values = new Map<string, string>();

  /** From now on, `localhost:documented` (and `127.0.0.1:documented`) means port `real`. */
  bindPort(documented: number, real: number): void {
    this.#ports.set(documented, real);
  }

  /** `text` (a command, a frame, a shown output) with documented ports and the varying values
   * already seen replaced by the real ones. Throws naming `where` for a port that no server
   * started so far has, or a value never seen before. */
  resolve(text: string, where: string): string {
    return this.#withPorts(text, where).replace(VARYING_SHOWN, (shown) => {
      const real = this.#real(shown);
      if (real === undefined) throw new Error(`${where}: ${shown} was not shown earlier`);
      return real;
    });
  }

  /** Whether `printed` shows what `shown` does. Learns nothing. */
  matches(shown: readonly string[], printed: string): boolean {
    return this.#pattern(shown, "").regex.test(normalized(printed));
  }

  /** Asserts that `printed` shows what `shown` does, and learns the real value of each varying
   * value first shown there; two values shown different must be different. */
  expect(shown: readonly string[], printed: string, where: string): void {
    const { regex, fresh, display } = this.#pattern(shown, where);
    const match = regex.exec(normalized(printed));
    if (match === null) {
      assert.equal(normalized(printed), display, `${where}: printed something else`);
      assert.fail(`${where}: ${JSON.stringify(printed)} does not match ${regex}`);
    }
    fresh.forEach((value, i) => {
      const real = match.groups![`v${i}`]!;
      const other = [...this.#values].find(([, known]) => known === real);
      assert.equal(other, undefined, `${where}: ${value} and ${other?.[0]} are both ${real}`);
      this.#values.set(value, real);
    });
  }

  #withPorts(text: string, where: string): string {
    return text.replace(/(?<=\b(?:localhost|127\.0\.0\.1):)\d+/g, (port) => {
      const real = this.#ports.get(Number(port));
      if (real === undefined) {
        throw new Error(`${where}: no server started so far has port ${port}`);
      }
      return String(real);
    });
  }

  #real(shown: string): string | undefined {
    const exact = this.#values.get(shown);
    if (exact !== undefined) return exact;
    const found = [...this.#values].filter(([known]) => isElidedForm(known, shown));
    if (found.length > 1) throw new Error(`${shown} could be any of ${found.map(([k]) => k)}`);
    return found[0]?.[1];
  }

  /** A regex of `shown`: literal text, the real values already known, and a named group of
   * the right shape for each varying value not seen yet; `display` shows those as `<value>`. */
  #pattern(shown: readonly string[], where: string) {
    const text = this.#withPorts(shown.join("\n"), where);
    const fresh: string[] = [];
    const parts: Array<{ source: string; display: string }> = [];
    const literal = (part: string) => parts.push({ source: escapeRegExp(part), display: part });
    let at = 0;
    for (const match of text.matchAll(VARYING_SHOWN)) {
      const [value] = match;
      literal(text.slice(at, match.index));
      at = match.index + value.length;
      const real = this.#real(value);
      if (real !== undefined) {
        literal(real);
      } else if (fresh.includes(value)) {
        parts.push({ source: `\\k<v${fresh.indexOf(value)}>`, display: `<${value}>` });
      } else {
        const kind = Object.entries(match.groups!).find(([, group]) => group !== undefined)![0];
        const { shape } = VARYING[Number(kind.slice(1))]!;
        parts.push({ source: `(?<v${fresh.length}>${shape})`, display: `<${value}>` });
        fresh.push(value);
      }
    }
    literal(text.slice(at));
    return {
      regex: new RegExp(`^${parts.map((part) => part.source).join("")}$`),
      fresh,
      display: parts.map((part) => part.display).join(""),
    };
  }
}

/** What a command printed as the lines a terminal shows: one final newline makes no line. */
function normalized(printed: string): string {
  return printed.replace(/\n$/, "");
}
