import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { type RunningCli, runCli, spawnCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab, writersBack } from "../support/hosted.js";

/** Log events at the phase boundaries, from just after the lock to just before the manifest. */
const BOUNDARIES = [
  "locked and journaled",
  "reconciliation paused",
  "writers scaled to zero",
  "writer pods gone",
  "snapshot stream started",
  "snapshot verified",
];

/** Starts a quiesced backup with JSON logs and resolves once `event` was logged. */
async function startUntil(args: string[], event: string): Promise<RunningCli> {
  const run = spawnCli([...args, "--log-format", "json"]);
  await run.waitForLine(new RegExp(`"msg":"${event}"`));
  return run;
}

describe("a hosted-cluster backup killed at any phase never leaves the cluster down", () => {
  let lab: HostedLab;
  let args: string[];
  let kube: string[];

  before(async () => {
    // Enough data that the stream takes a moment: a kill after "stream started" lands mid-stream.
    lab = await startHostedLab({ dataBytes: 24 * 1024 * 1024 });
    const recipient = await identityToRecipient(await generateIdentity());
    kube = ["-n", "clusters", "--kubeconfig", lab.kubeconfig];
    args = ["backup", "example", ...kube, "--to", join(lab.work, "store"), "--key-recipient", recipient];
  });
  after(async () => {
    await lab?.stop();
  });

  for (const event of BOUNDARIES) {
    it(`SIGKILL after "${event}": resume restores the original state; no backup is listed`, async () => {
      const run = await startUntil(args, event);
      try {
        run.child.kill("SIGKILL");
        assert.equal((await run.exited).signal, "SIGKILL");
      } finally {
        const r = await runCli(["resume", "example", ...kube]);
        assert.equal(r.code, 0, r.stderr);
      }
      const state = await writersBack(lab, "writers back");
      assert.deepEqual(state, ORIGINAL_STATE);
      const listed = await runCli(["list", "--from", join(lab.work, "store"), "-o", "json"]);
      assert.deepEqual(JSON.parse(listed.stdout || "[]"), [], "a killed run is never listed");
    });
  }

  for (const event of BOUNDARIES) {
    it(`SIGINT after "${event}": the cluster is resumed before the process exits 130`, async () => {
      const run = await startUntil(args, event);
      run.child.kill("SIGINT");
      const exit = await run.exited;
      try {
        assert.equal(exit.code, 130, run.stderr());
        const state = await clusterState(lab);
        assert.equal(state.journal, false, "journal removed before exit");
        assert.equal(state.pausedUntil, undefined);
        for (const w of Object.values(state.writers)) assert.equal(w.replicas, 3);
      } finally {
        await runCli(["resume", "example", ...kube]);
      }
      await writersBack(lab, "pods back");
    });
  }

  it("without resume, the pause deadline brings the writers back (simulated clock advanced)", async () => {
    const run = await startUntil(args, "writer pods gone");
    run.child.kill("SIGKILL");
    await run.exited;
    try {
      const down = await clusterState(lab);
      assert.equal(down.writers["kube-apiserver"]?.replicas, 0, "killed with the writers down");
      lab.sim.clock.advance(31 * 60_000);
      const state = await writersBack(lab, "the control-plane operator to bring the writers back");
      assert.equal(state.journal, true, "the journal stays until resume removes it");
    } finally {
      const r = await runCli(["resume", "example", ...kube]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });
});
