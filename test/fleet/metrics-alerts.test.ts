import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const DEPLOY = fileURLToPath(new URL("../../deploy/", import.meta.url));

function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile("promtool", args, { cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe("alert rules (deploy/alerts.yaml) with the real promtool", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-alerts-"));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("promtool check rules accepts them: four rules", async () => {
    const r = await promtool(["check", "rules", "alerts.yaml"], DEPLOY);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS: 4 rules found/);
  });

  it("promtool test rules: stale backup, failed backup (also never succeeded), failed verification, continuous backup behind", async () => {
    const r = await promtool(["test", "rules", "alerts.test.yaml"], DEPLOY);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  /** The same test cases against a changed copy of the rules: each change must make them fail. */
  const mutants: Array<[string, (rules: string) => string, RegExp]> = [
    ["stale after 26h instead of 25h", (s) => s.replace("> 25 * 3600", "> 26 * 3600"), /name: stale backup/],
    [
      "a cluster that never succeeded is not reported",
      (s) => s.replace(/\n\s+or\n\s+\(hcp_etcd_backup_last_failure_timestamp_seconds unless [^)]*\)/, ""),
      /name: failed backup/,
    ],
    [
      "failed verification never fires",
      (s) => s.replace("verification_success == 0", "verification_success < 0"),
      /name: failed verification/,
    ],
    [
      "a continuous backup 10 minutes behind is tolerated",
      (s) =>
        s.replace("continuous_last_commit_timestamp_seconds > 300", "continuous_last_commit_timestamp_seconds > 600"),
      /name: continuous backup behind/,
    ],
  ];
  for (const [what, mutate, failing] of mutants) {
    it(`the cases catch a broken rule: ${what}`, async () => {
      const rules = await readFile(join(DEPLOY, "alerts.yaml"), "utf8");
      const changed = mutate(rules);
      assert.notEqual(changed, rules, "the mutation applies");
      await writeFile(join(work, "alerts.yaml"), changed);
      await copyFile(join(DEPLOY, "alerts.test.yaml"), join(work, "alerts.test.yaml"));
      const r = await promtool(["test", "rules", "alerts.test.yaml"], work);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, failing);
    });
  }
});
