// `restore prepare` on a backup in a local store: no URL can be made, but everything else can be
// checked (the backup, the rendered file, the key), so the findings come first and the refusal last.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { backupToLocalStore } from "./helpers.js";

const FIXTURE = new URL("../fixtures/rendered/example-aescbc.yaml", import.meta.url).pathname;

describe("restore prepare from a local store (real 1-member etcd, built CLI)", () => {
  let etcd: EtcdCluster;
  let work: string;
  let ref: string;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    ref = await backupToLocalStore(etcd, join(work, "store"));
  });
  after(async () => {
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("prints the findings of the backup and the rendered file, then says a local store cannot be presigned (exit 2)", async () => {
    const out = join(work, "restore.yaml");
    const r = await runCli(["restore", "prepare", ref, "--rendered", FIXTURE]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "", "no manifests without a URL");
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(
      lines.at(-1) ?? "",
      /^hcp-etcd-backup: .* is a local store and a local file cannot be presigned: copy the backup folder to S3 .* or .*'restore local'$/,
    );
    // The report comes first: the backup was read and verified, and the rendered file was checked.
    const row = (mark: string, id: string) =>
      assert.ok(
        lines.some((l) => new RegExp(`^  ${mark}\\s+${id}\\s`).test(l)),
        `no ${mark} ${id} row in:\n${r.stderr}`,
      );
    assert.equal(lines[0], `restore prepare ${ref}`);
    row("PASS", "backup-verified");
    row("PASS", "etcd-shape");
    row("WARN", "encryption-type");
    row("WARN", "trap-restore-in-place");
    row("PASS", "pv-size");
    row("BLOCK", "url");
    assert.equal(lines.filter((l) => l.startsWith("hcp-etcd-backup:")).length, 1, r.stderr);

    // With -o the report goes to stdout; nothing is written without a URL.
    const withOut = await runCli(["restore", "prepare", ref, "--rendered", FIXTURE, "-o", out]);
    assert.equal(withOut.code, 2, withOut.stderr);
    assert.match(withOut.stdout, /WARN\s+trap-restore-in-place/);
    assert.match(withOut.stderr, /^hcp-etcd-backup: .* is a local store and a local file cannot be presigned: /);
    assert.equal(withOut.stderr.trimEnd().split("\n").length, 1, withOut.stderr);
    assert.equal(existsSync(out), false);
  });

  it("a rendered file that cannot be read is refused first, with the usual line", async () => {
    const r = await runCli(["restore", "prepare", ref, "--rendered", join(work, "nope.yaml")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^hcp-etcd-backup: cannot read --rendered .*nope\.yaml/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  });
});
