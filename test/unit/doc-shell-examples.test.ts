// Every shell example in README.md and docs/*.md pastes: each fenced block says its language (```sh
// for commands to paste, ```text or ```yaml otherwise), each sh block passes `bash -n`, no line of it
// is an option or redirection cut off from its command (a missing trailing `\`), no <placeholder>
// turns into a redirection, and every hcp-etcd-backup command line is one the CLI accepts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  docFiles,
  documentedCommands,
  fencedBlocks,
  logicalLines,
  parseOnly,
  SHELL_LANGUAGES,
} from "../support/doc-commands.js";

/** Problems a shell example has that `bash -n` accepts, one line each. */
export function pasteProblems(text: string): string[] {
  const problems: string[] = [];
  for (const line of logicalLines(text)) {
    if (/^(-|>|<|\|)/.test(line))
      problems.push(`"${line.slice(0, 60)}" starts with an option or redirection: the line before lacks a trailing \\`);
    const placeholder = /<[A-Za-z][^<>\s]*>/.exec(line);
    if (placeholder)
      problems.push(`"${placeholder[0]}" is a redirection when pasted: use a real value or a $VARIABLE set above`);
  }
  return problems;
}

function bashN(text: string): string {
  const r = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
  return r.status === 0 ? "" : r.stderr.trim();
}

describe("shell examples in the docs", () => {
  const blocks = docFiles().flatMap(fencedBlocks);

  it("finds the blocks (README and the runbook have commands)", () => {
    const shell = blocks.filter((b) => SHELL_LANGUAGES.has(b.language));
    assert.ok(shell.some((b) => b.file === "README.md"));
    assert.ok(shell.filter((b) => b.file === "docs/runbook.md").length >= 5);
  });

  it("every fence names its language, so no command block escapes these checks", () => {
    const bare = blocks.filter((b) => b.language === "").map((b) => `${b.file}:${b.line}`);
    assert.deepEqual(bare, []);
  });

  for (const b of blocks.filter((x) => SHELL_LANGUAGES.has(x.language))) {
    it(`${b.file}:${b.line} passes bash -n and pastes as written`, () => {
      assert.equal(bashN(b.text), "", b.text);
      assert.deepEqual(pasteProblems(b.text), [], b.text);
    });
  }

  it("every hcp-etcd-backup command in them is one the CLI accepts (commands, options, arguments)", async () => {
    const commands = documentedCommands();
    assert.ok(commands.length >= 10, `${commands.length} commands found`);
    for (const c of commands) await assert.doesNotReject(parseOnly(c.words), c.where);
  });

  it("the checks bite: the runbook's old schedule example (a comment ending a continued line) fails", () => {
    const old = [
      "hcp-etcd-backup schedule example -n clusters \\",
      '  --to s3://hcp-backups/prod --cron "0 */6 * * *" \\',
      "  --key-recipient age1...            # the team's age recipient",
      "  --role-arn arn:aws:iam::123456789012:role/hcp-etcd-backup   # or --credentials-secret NAME",
      "  > hcp-etcd-backup-example.yaml",
      "hcp-etcd-backup verify <ref> --restore-drill",
      "",
    ].join("\n");
    assert.equal(bashN(old), "", "bash -n alone accepts it");
    const problems = pasteProblems(old);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems[0] as string, /"--role-arn .* lacks a trailing \\/);
    assert.match(problems[1] as string, /"> hcp-etcd-backup-example.yaml" starts with an option or redirection/);
    assert.match(problems[2] as string, /"<ref>" is a redirection when pasted/);
    assert.notEqual(bashN("kubectl apply -f x.yaml |\n"), "", "and bash -n itself catches syntax errors");
  });
});
