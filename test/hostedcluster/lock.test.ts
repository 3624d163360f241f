import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { discoverHostedCluster } from "../../src/hostedcluster/discovery.js";
import { JOURNAL_ANNOTATION, parseJournal } from "../../src/hostedcluster/journal.js";
import { DEFAULT_WRITERS } from "../../src/hostedcluster/names.js";
import {
  lockAndJournal,
  pause,
  type QuiesceContext,
  resumeFromJournal,
  scaleWritersDown,
  waitForPause,
} from "../../src/hostedcluster/quiesce.js";
import { createLogger } from "../../src/logging.js";
import { runCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab, writersBack } from "../support/hosted.js";
import { waitFor } from "../support/wait.js";

const silent = createLogger({ format: "json", level: "silent" });

describe("the lock, the journal and the originals: compare-and-swap, read under the lock", () => {
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
    lab.sim.faults.clear();
    await clearJournal();
    await runCli(["resume", "example", ...kube]);
  });

  async function clearJournal(): Promise<void> {
    await lab.api.patchHostedCluster("clusters", "example", {
      metadata: { annotations: { [JOURNAL_ANNOTATION]: null } },
    });
  }
  async function storedJournal() {
    const hc = (await lab.api.getHostedCluster("clusters", "example")) as {
      metadata: { annotations?: Record<string, string> };
    };
    const raw = hc.metadata.annotations?.[JOURNAL_ANNOTATION];
    return raw === undefined ? undefined : parseJournal(raw, "clusters/example");
  }
  const context = async (): Promise<QuiesceContext> => ({
    cluster: lab.api,
    target: await discoverHostedCluster(lab.api, "clusters", "example", { writers: DEFAULT_WRITERS }),
    logger: silent,
  });

  it("20 pairs of runs locking at the same instant from the same read: each time exactly one wins, the other is told who holds it", async () => {
    for (let pair = 0; pair < 20; pair++) {
      const ctx = await context();
      const results = await Promise.allSettled(
        ["a", "b"].map((who) =>
          lockAndJournal(ctx, { runId: `pair-${pair}-${who}`, mode: "quiesced", lockMs: 60_000 }),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(won.length, 1, `pair ${pair}: ${lost.map((l) => String(l.reason)).join("; ")}`);
      assert.match(
        String(lost[0]?.reason),
        /another backup of clusters\/example is running: \S+@\S+ \(pid \d+, started [^)]+\)/,
        `pair ${pair}`,
      );
      const winner = (won[0] as PromiseFulfilledResult<{ runId: string }>).value.runId;
      assert.equal((await storedJournal())?.runId, winner, `pair ${pair}: the stored lock is the winner's`);
      await clearJournal();
    }
  });

  it("a journal write of a run whose lock was taken over stops instead of overwriting the new holder's journal", async () => {
    const a = await context();
    const journalA = await lockAndJournal(a, { runId: "run-a", mode: "quiesced", lockMs: 60_000 });
    // Someone judged run A dead (resume --force) and run B took the lock.
    await clearJournal();
    const b = await context();
    const journalB = await lockAndJournal(b, { runId: "run-b", mode: "quiesced", lockMs: 60_000 });
    await assert.rejects(
      pause(a, journalA, 60_000),
      /the lock on clusters\/example is no longer this run's \(backup run run-b by/,
    );
    assert.deepEqual(await storedJournal(), journalB, "run B's journal is intact");
    const hc = (await lab.api.getHostedCluster("clusters", "example")) as { spec: { pausedUntil?: string } };
    assert.equal(hc.spec.pausedUntil, undefined, "run A did not pause the cluster under B's lock");
    // Releasing is conditional too: A's resume leaves B's lock alone.
    await assert.rejects(resumeFromJournal(a, journalA, { availableTimeoutMs: 1_000 }), /no longer this run's/);
    assert.deepEqual(await storedJournal(), journalB);
  });

  it("another writer updating the HostedCluster every 100 ms, and 409s injected on its patches: the backup completes", async () => {
    let n = 0;
    let storming = true;
    const storm = (async () => {
      while (storming) {
        // The injected 409s may land on the storm's own patches too: it carries on, as a controller does.
        await lab.api
          .patchHostedCluster("clusters", "example", { metadata: { labels: { storm: String(n++) } } })
          .catch(() => {});
        await new Promise((r) => setTimeout(r, 100)); // the other writer's own pace, not a wait for our state
      }
    })();
    try {
      lab.sim.faults.inject({ verb: "patch", resource: "hostedclusters", code: 409, times: 4 });
      const r = await runCli(["backup", "example", ...kube, "--to", join(lab.work, "storm"), "--no-key"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lab.sim.faults.pending, 0, "every injected conflict was met");
    } finally {
      storming = false;
      await storm;
      await lab.api.patchHostedCluster("clusters", "example", { metadata: { labels: { storm: null } } });
    }
    assert.ok(n > 5, `the storm ran (${n} updates)`);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("conflicts that never end: one clear line, exit 1, nothing left changed", async () => {
    lab.sim.faults.inject({ verb: "patch", resource: "hostedclusters", code: 409, times: 1000 });
    const r = await runCli(["backup", "example", ...kube, "--to", join(lab.work, "endless"), "--no-key"]);
    lab.sim.faults.clear();
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    assert.match(last, /^hcp-etcd-backup: conflict on patch hostedclusters "example" in namespace clusters/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  /** Someone else (a maintenance window) pauses the cluster and holds kube-apiserver at 0. */
  async function othersPauseWithWriterAtZero(): Promise<void> {
    await lab.api.patchHostedCluster("clusters", "example", { spec: { pausedUntil: "true" } });
    await waitFor("the pause to reach the HostedControlPlane", async () => {
      const hcp = (await lab.api.getHostedControlPlane("clusters-example", "example")) as {
        status?: { conditions?: Array<{ type?: string; status?: string }> };
      };
      return hcp.status?.conditions?.some((c) => c.type === "ReconciliationActive" && c.status === "False")
        ? true
        : undefined;
    });
    await lab.api.scaleDeployment("clusters-example", "kube-apiserver", 0);
  }
  async function othersRelease(): Promise<void> {
    await lab.api.patchHostedCluster("clusters", "example", { spec: { pausedUntil: null } });
    await writersBack(lab, "the writers back after the other pause");
  }

  it("a writer held at 0 under someone else's pause is left exactly as found: never scaled, either way", async () => {
    await othersPauseWithWriterAtZero();
    try {
      // Any scale write to it would be refused: the backup must not even try.
      lab.sim.faults.forbid({ verb: "patch", resource: "deployments/scale", name: "kube-apiserver", times: 100 });
      const r = await runCli([
        "backup",
        "example",
        ...kube,
        "--to",
        join(lab.work, "at-zero"),
        "--no-key",
        "--log-format",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lab.sim.faults.pending, 100, "no scale request reached kube-apiserver");
      lab.sim.faults.clear();
      const scaled = r.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg: string; writers?: string[]; leftAtZero?: string[] })
        .find((l) => l.msg === "writers scaled to zero");
      assert.deepEqual(scaled?.leftAtZero, ["kube-apiserver"]);
      assert.deepEqual(scaled?.writers, ["openshift-apiserver", "openshift-oauth-apiserver"]);
      const state = await clusterState(lab);
      assert.equal(state.pausedUntil, "true", "the other pause is untouched");
      assert.equal(state.journal, false);
      assert.deepEqual(state.writers["kube-apiserver"], { replicas: 0, pods: 0 });
    } finally {
      lab.sim.faults.clear();
      await othersRelease();
    }
    assert.deepEqual(await clusterState(lab), ORIGINAL_STATE);
  });

  it("a run that discovered the writers at 0 under another's pause records what it finds once it holds the lock", async () => {
    await othersPauseWithWriterAtZero();
    let ctx: QuiesceContext;
    try {
      ctx = await context();
      assert.equal(ctx.target.writers.find((w) => w.name === "kube-apiserver")?.replicas, 0, "discovery saw 0");
    } finally {
      await othersRelease();
    }
    let journal = await lockAndJournal(ctx, { runId: "late-lock", mode: "quiesced", lockMs: 60_000 });
    assert.deepEqual(journal.original.writers, [], "no original is taken from before the lock");
    try {
      const paused = await pause(ctx, journal, 60_000, (j) => {
        journal = j;
      });
      await waitForPause(ctx, paused.pausedUntil, 15_000);
      journal = await scaleWritersDown(ctx, journal);
      assert.deepEqual(
        journal.original.writers.map((w) => [w.name, w.replicas]),
        DEFAULT_WRITERS.map((w) => [w, 3]),
      );
    } finally {
      await resumeFromJournal(ctx, journal, { availableTimeoutMs: 15_000 });
    }
    assert.deepEqual(await writersBack(lab), ORIGINAL_STATE);
  });
});
