import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { runCli, spawnCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab } from "../support/hosted.js";

describe("quiescence is proven twice", () => {
  let lab: HostedLab;
  let kube: string[];

  before(async () => {
    lab = await startHostedLab();
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
  });
  after(async () => {
    await lab?.stop();
  });
  afterEach(async () => {
    await runCli(["resume", "example", ...kube]);
  });

  it("a write to etcd after the first quiet survey: the backup fails in one line, resumes the cluster, commits nothing", async () => {
    const store = join(lab.work, "not-quiet");
    const run = spawnCli(["backup", "example", ...kube, "--to", store, "--no-key", "--log-format", "json"]);
    await run.waitForLine(/"msg":"etcd quiet at one revision; confirming"/);
    // Something the scale-down missed still writes (an operator with its own etcd client).
    const client = await lab.etcd.client(0);
    try {
      await client.put("/kubernetes.io/configmaps/clusters-example/late-writer", "still writing");
    } finally {
      client.close();
    }
    const { code } = await run.exited;
    assert.equal(code, 1, run.stderr());
    const last = run.stderr().trim().split("\n").at(-1) ?? "";
    assert.match(last, /etcd was not quiet|but etcd was quiet at/, last);
    assert.match(last, /something (still )?wr(i|o)tes? to etcd/);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE, "the cluster was resumed");
    const listed = await runCli(["list", "--from", store, "-o", "json"]);
    assert.deepEqual(JSON.parse(listed.stdout), [], "no backup was committed");
  });

  it("quiet twice: the backup records both surveys' revision, which the snapshot holds", async () => {
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "quiet"),
      "--no-key",
      "-o",
      "json",
      "--log-format",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const confirmed = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; revision?: number })
      .find((l) => l.msg === "etcd quiet (two surveys agree)");
    const out = JSON.parse(r.stdout) as { snapshot: { revision: number } };
    assert.equal(confirmed?.revision, out.snapshot.revision);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("--pause-timeout shorter than the phases it must cover is a usage error before anything changes", async () => {
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "short"),
      "--no-key",
      "--pause-timeout",
      "5m",
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^hcp-etcd-backup: --pause-timeout 5m is shorter than the phases it must cover \(.*: 8m\): the pause could end mid-snapshot; use at least 8m$/,
    );
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });
});
