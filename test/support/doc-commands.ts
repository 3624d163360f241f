// The shell examples of README.md and docs/*.md, and the command lines of the CLI's own help examples,
// read the way a shell would, so tests can check that each one pastes, parses and (some) runs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { MutableCliContext } from "../../src/cli/context.js";
import { buildProgram } from "../../src/cli/program.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The convention: a block fenced ```sh holds commands to paste (bash/shell are taken as the same). */
export const SHELL_LANGUAGES = new Set(["sh", "bash", "shell"]);

export interface FencedBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly language: string;
  readonly text: string;
}

/** README.md and every docs/*.md, relative to the repository root. */
export function docFiles(): string[] {
  return [
    "README.md",
    ...readdirSync(join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
}

export function fencedBlocks(file: string): FencedBlock[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: FencedBlock[] = [];
  let open: { line: number; language: string; body: string[] } | undefined;
  for (const [i, l] of lines.entries()) {
    const fence = /^\s*```\s*(\S*)/.exec(l);
    if (!fence) {
      open?.body.push(l);
      continue;
    }
    if (open) {
      blocks.push({ file, line: open.line, language: open.language, text: `${open.body.join("\n")}\n` });
      open = undefined;
    } else open = { line: i + 1, language: fence[1] ?? "", body: [] };
  }
  if (open) throw new Error(`${file}:${open.line}: fence never closed`);
  return blocks;
}

/**
 * The commands of a shell block as the shell sees them: continuations joined, comments dropped, one
 * entry per logical line (a pipe or && keeps the line going).
 */
export function logicalLines(text: string): string[] {
  const out: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = stripComment(raw);
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (/(\||&&|\|\|)\s*$/.test(current)) {
      current += " ";
      continue;
    }
    if (current.trim() !== "") out.push(current.trim());
    current = "";
  }
  if (current.trim() !== "") out.push(current.trim());
  return out;
}

/** Drops a `#` comment (a `#` that starts a word, outside quotes). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/** Splits a simple command into words (quotes removed); stops at a pipe, a redirection or `;`/`&&`. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word = (word ?? "") + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if ("|;&<>".includes(c)) break;
    else word = (word ?? "") + c;
  }
  if (word !== undefined && !quote) words.push(word);
  return words;
}

/** Every `hcp-etcd-backup ...` command line in the docs' shell blocks, with where it is. */
export function documentedCommands(): Array<{ where: string; words: string[] }> {
  const found: Array<{ where: string; words: string[] }> = [];
  for (const file of docFiles())
    for (const b of fencedBlocks(file).filter((x) => SHELL_LANGUAGES.has(x.language)))
      for (const l of logicalLines(b.text)) {
        const words = shellWords(l);
        if (words[0] === "hcp-etcd-backup") found.push({ where: `${file}:${b.line}: ${l}`, words: words.slice(1) });
      }
  return found;
}

/** The command tree, with no action that does anything: for walking it and parsing command lines. */
export function inertProgram(): Command {
  const ctx = new MutableCliContext({ signal: new AbortController().signal, defer: () => () => {} });
  const program = buildProgram(ctx);
  for (const c of leafCommands(program)) c.action(() => {});
  return program;
}

export function leafCommands(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leafCommands);
}

export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The help text as `--help` prints it, the "after" text (examples) included. */
export function helpText(cmd: Command): string {
  let text = "";
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

/** The command lines of a help text's Examples section (without the program name). */
export function helpExamples(help: string): string[][] {
  const at = help.indexOf("\nExamples:\n");
  if (at < 0) return [];
  return help
    .slice(at)
    .split("\n")
    .filter((l) => l.startsWith("  hcp-etcd-backup "))
    .map((l) => shellWords(l.trim()).slice(1));
}

/**
 * Parses a command line (program name left out) the way the CLI would, running nothing: an unknown
 * command or option, a missing argument or a bad choice throws commander's error.
 */
export async function parseOnly(words: string[]): Promise<void> {
  await inertProgram().parseAsync(words, { from: "user" });
}
