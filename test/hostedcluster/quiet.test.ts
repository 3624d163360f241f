import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
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

  /** A late writer (an operator with its own etcd client, missed by the scale-down) writes once. */
  async function writeToEtcd(value: string): Promise<void> {
    const client = await lab.etcd.client(0);
    try {
      await client.put("/kubernetes.io/configmaps/clusters-example/late-writer", value);
    } finally {
      client.close();
    }
  }

  it("a write to etcd during the first capture: the capture is tried again and the backup commits the later revision", async () => {
    const store = join(lab.work, "written-once");
    const run = spawnCli([
      "backup",
      "example",
      ...kube,
      "--to",
      store,
      "--no-key",
      "-o",
      "json",
      "--log-format",
      "json",
    ]);
    await run.waitForLine(/"msg":"etcd quiet at one revision; confirming"/);
    await writeToEtcd("written once");
    const { code } = await run.exited;
    assert.equal(code, 0, run.stderr());
    assert.match(run.stderr(), /"msg":"etcd was not quiet: capturing again"/);
    const confirmed = run
      .stderr()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { msg: string; revision?: number })
      .filter((l) => l.msg === "etcd quiet (two surveys agree)");
    const out = JSON.parse(run.stdout()) as { snapshot: { revision: number } };
    assert.equal(confirmed.length, 1, "the first attempt was not proven quiet");
    assert.equal(confirmed[0]?.revision, out.snapshot.revision, "the snapshot holds the revision of the retry");
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE, "the cluster was resumed");
    const listed = JSON.parse((await runCli(["list", "--from", store, "-o", "json"])).stdout) as unknown[];
    assert.equal(listed.length, 1, "one backup, committed once");
    const folders = await readdir(join(store, "clusters", "example"));
    assert.equal(folders.length, 1, `the first attempt's snapshot was removed: ${folders.join(", ")}`);
  });

  it("a write to etcd during every capture: the backup fails in one line, resumes the cluster, commits nothing", async () => {
    const store = join(lab.work, "not-quiet");
    const run = spawnCli(["backup", "example", ...kube, "--to", store, "--no-key", "--log-format", "json"]);
    let quiet = run.waitForLine(/"msg":"etcd quiet at one revision; confirming"/);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await quiet;
      quiet = run.waitForLine(/"msg":"etcd quiet at one revision; confirming"/);
      quiet.catch(() => {}); // the last attempt has no successor: the run exits instead
      await writeToEtcd(`still writing ${attempt}`);
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
