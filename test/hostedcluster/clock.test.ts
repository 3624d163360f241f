import assert from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { JOURNAL_ANNOTATION, type Journal, serializeJournal } from "../../src/hostedcluster/journal.js";
import { runCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab } from "../support/hosted.js";

const HOUR = 3_600_000;

/** The JSON log lines of a run, by message. */
function logLines(stderr: string): Array<Record<string, unknown> & { msg: string }> {
  return stderr
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

describe("deadlines follow the API server's clock (simulator's Date header offset from ours)", () => {
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
    lab.sim.clock.skew(0);
    lab.sim.api.sendsDate = true;
    await runCli(["resume", "example", ...kube]);
  });

  it("management cluster 3 h behind: pausedUntil and the lock's expiry are its now + the timeout, and the skew is logged", async () => {
    lab.sim.clock.skew(-3 * HOUR);
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "behind"),
      "--no-key",
      "--pause-timeout",
      "4h",
      "--log-format",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const simNow = lab.sim.clock.now().getTime();
    const lines = logLines(r.stderr);
    const skew = lines.find((l) => /clock is 3\.0 h behind this machine's/.test(l.msg));
    assert.ok(skew, "the skew is logged");
    assert.ok(Math.abs((skew.skewSeconds as number) + 10_800) <= 2, String(skew.skewSeconds));
    const paused = lines.find((l) => l.msg === "reconciliation paused");
    const locked = lines.find((l) => l.msg === "locked and journaled");
    // The run took seconds; the local clock would be 3 h off.
    const near = (iso: unknown, expected: number) =>
      assert.ok(
        Math.abs(Date.parse(String(iso)) - expected) < 120_000,
        `${iso} vs ${new Date(expected).toISOString()}`,
      );
    near(paused?.pausedUntil, simNow + 4 * HOUR);
    near(locked?.lockExpiresAt, simNow + 4 * HOUR + 5 * 60_000);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("skew larger than the pause timeout is refused before anything changes", async () => {
    lab.sim.clock.skew(3 * HOUR);
    const r = await runCli(["backup", "example", ...kube, "--to", join(lab.work, "ahead"), "--no-key"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim().split("\n").at(-1) ?? "",
      /^hcp-etcd-backup: the Kubernetes API server's clock is 3\.0 h ahead of this machine's, more than the pause timeout \(30 min\): fix the clock .*nothing was changed$/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("an API server without a Date header: the local clock, with a warning", async () => {
    lab.sim.api.sendsDate = false;
    const r = await runCli([
      "backup",
      "example",
      ...kube,
      "--to",
      join(lab.work, "nodate"),
      "--no-key",
      "--log-format",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const warning = logLines(r.stderr).find((l) => /without a Date header/.test(l.msg));
    assert.equal(warning?.level, 40, "pino's warn");
    const paused = logLines(r.stderr).find((l) => l.msg === "reconciliation paused");
    assert.ok(Math.abs(Date.parse(String(paused?.pausedUntil)) - (Date.now() + 30 * 60_000)) < 120_000);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("resume judges a lock's expiry by the API server's clock: expired there, it resumes though ours says fresh", async () => {
    lab.sim.clock.skew(HOUR);
    const local = Date.now();
    const journal: Journal = {
      version: 1,
      runId: "skewed-holder",
      holder: { user: "sre", host: `not-${hostname()}`, pid: 1 },
      startedAt: new Date(local - 10 * 60_000).toISOString(),
      // 30 min ahead of this machine, 30 min past on the API server.
      lockExpiresAt: new Date(local + 30 * 60_000).toISOString(),
      mode: "quiesced",
      original: { pausedUntil: null, writers: [] },
      changed: { scaledWriters: [] },
    };
    await lab.api.patchHostedCluster("clusters", "example", {
      metadata: { annotations: { [JOURNAL_ANNOTATION]: serializeJournal(journal) } },
    });
    const r = await runCli(["resume", "example", ...kube]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^resumed clusters\/example \(backup run skewed-holder/);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });
});
