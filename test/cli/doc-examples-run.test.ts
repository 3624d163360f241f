// The documented examples that can run here, run through the built CLI: every command's --help (with its
// Examples section as the user sees it), the snapshot examples of the help against a real 1-member etcd
// (save, then status, verify, keys and diff on what it saved), and
// every `schedule` command line of the README and docs that renders offline (no --apply), with the
// shell variables the runbook asks you to set given real values. Commands that need a management
// cluster, S3 or a backup ref are only parsed (test/unit/doc-shell-examples.test.ts).
import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { runCli } from "../support/cli.js";
import {
  commandPath,
  documentedCommands,
  helpExamples,
  helpText,
  inertProgram,
  leafCommands,
} from "../support/doc-commands.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";

const SNAPSHOT_FILES = ["backup.db", "monday.db", "tuesday.db"];

describe("documented examples, run (built CLI)", () => {
  let cluster: EtcdCluster;
  let work: string;
  let recipient: string;
  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    await loadCluster(cluster, { targetBytes: 256 * 1024, valueSize: [100, 200] });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    recipient = await identityToRecipient(await generateIdentity());
  });
  after(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const leaves = leafCommands(inertProgram());

  it("every command's --help exits 0 and ends with its Examples, as built", async () => {
    for (const cmd of leaves) {
      const path = commandPath(cmd).split(" ");
      const r = await runCli([...path, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nExamples:\n {2}# .+\n {2}hcp-etcd-backup /, path.join(" "));
    }
  });

  it("the snapshot examples of the help run: save from a real etcd, then the others on what it saved", async () => {
    const snapshotExamples = leaves
      .filter((c) => c.parent?.name() === "snapshot")
      .flatMap((c) => helpExamples(helpText(c)));
    assert.ok(snapshotExamples.length >= 7, `${snapshotExamples.length} examples`);
    assert.equal(snapshotExamples[0]?.[1], "save", "save runs first: the others read its file");
    // The example's endpoint and certificate files, as this test's etcd has them.
    const local: Record<string, string> = {
      "https://10.0.0.5:2379": cluster.endpoint(0),
      "ca.crt": cluster.tlsFiles.cacert,
      "client.crt": cluster.tlsFiles.cert,
      "client.key": cluster.tlsFiles.key,
    };
    for (const [i, words] of snapshotExamples.entries()) {
      if (i === 1) for (const f of SNAPSHOT_FILES.slice(1)) await copyFile(join(work, "backup.db"), join(work, f));
      const args = words.map((w) => local[w] ?? (SNAPSHOT_FILES.includes(w) ? join(work, w) : w));
      const r = await runCli(args);
      // diff of two copies of one file: the same, exit 0.
      assert.equal(r.code, 0, `${words.join(" ")}: ${r.stderr}`);
      assert.notEqual(r.stdout, "", words.join(" "));
    }
  });

  it("every documented schedule command without --apply renders its manifests", async () => {
    const vars: Record<string, string> = {
      $AGE_RECIPIENT: recipient,
      $IMAGE: "registry.example.com/hcp-etcd-backup:0.1.0",
      "age1...": recipient,
    };
    const renders = documentedCommands().filter((c) => c.words[0] === "schedule" && !c.words.includes("--apply"));
    assert.ok(renders.length >= 1, "the runbook has one");
    for (const c of renders) {
      const r = await runCli(c.words.map((w) => vars[w] ?? w));
      assert.equal(r.code, 0, `${c.where}\n${r.stderr}`);
      assert.match(r.stdout, /kind: CronJob/, c.where);
      assert.doesNotMatch(r.stderr, /--image: the default/, "the runbook passes --image");
    }
  });
});
