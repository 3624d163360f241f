import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { loadKubeConfig } from "../../src/hostedcluster/kube.js";
import { runCli, spawnCli } from "../support/cli.js";
import { type FleetLab, markerKey, startFleetLab } from "../support/fleet-lab.js";
import { clusterState, ORIGINAL_STATE } from "../support/hosted.js";
import { waitFor } from "../support/wait.js";

const CLUSTERS = [
  { namespace: "clusters", name: "alpha" },
  { namespace: "clusters", name: "beta" },
  { namespace: "clusters", name: "gamma" },
  { namespace: "staging", name: "delta" },
] as const;
const IN_CLUSTERS = CLUSTERS.filter((c) => c.namespace === "clusters");
const label = (c: { namespace: string; name: string }) => `${c.namespace}/${c.name}`;

interface Row {
  cluster: string;
  status: string;
  ref?: string;
  error?: string;
  etcdAccess?: string;
  writerDowntimeSeconds?: number;
}
interface Report {
  results: Row[];
  failed: number;
}

describe("backup --all (Kubernetes API simulator, four hosted clusters, each on its own real etcd)", () => {
  let lab: FleetLab;
  let recipient: string;
  let kube: string[];

  before(async () => {
    lab = await startFleetLab(CLUSTERS);
    recipient = await identityToRecipient(await generateIdentity());
    kube = ["--kubeconfig", lab.kubeconfig];
  });
  after(async () => {
    await lab?.stop();
  });
  // A failed test must not leave the next one a paused cluster or a journal.
  afterEach(async () => {
    for (const c of CLUSTERS) await runCli(["resume", c.name, "-n", c.namespace, ...kube]);
  });

  /** Each cluster as HyperShift left it: unpaused, writers at 3 ready pods, no journal (polled: controllers run on timers). */
  const allBack = (clusters: ReadonlyArray<{ namespace: string; name: string }>) =>
    Promise.all(
      clusters.map((c) =>
        waitFor(
          `${label(c)} to be back`,
          async () => {
            const s = await clusterState(lab, c.namespace, c.name);
            return Object.values(s.writers).every((w) => w.replicas === 3 && w.pods === 3) ? s : undefined;
          },
          15_000,
        ),
      ),
    );

  /** The keys a stored snapshot holds under /fleet/: which etcd it came from. */
  async function markers(ref: string): Promise<string[]> {
    const r = await runCli(["snapshot", "keys", join(ref, "snapshot.db"), "--prefix", "/fleet/"]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0] ?? "");
  }

  it("-n clusters: every hosted cluster of the namespace backed up from its own etcd (quiesced), verified, listed, each back as it was", async () => {
    const store = join(lab.work, "all");
    const r = await runCli([
      "backup",
      "--all",
      "-n",
      "clusters",
      ...kube,
      "--to",
      store,
      "--key-recipient",
      recipient,
      "--parallel",
      "2",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "nothing to warn about");
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.failed, 0);
    assert.deepEqual(
      report.results.map((x) => [x.cluster, x.status, x.etcdAccess]),
      IN_CLUSTERS.map((c) => [label(c), "ok", "port-forward"]),
      "staging/delta is outside -n clusters",
    );
    for (const [i, c] of IN_CLUSTERS.entries()) {
      const row = report.results[i] as Row;
      const ref = row.ref as string;
      assert.equal(ref, join(store, label(c), ref.split("/").at(-1) as string));
      const manifest = JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8"));
      assert.equal(manifest.label, label(c));
      assert.equal(manifest.mode, "quiesced");
      assert.equal(manifest.source.hcpNamespace, `clusters-${c.name}`);
      assert.ok(row.writerDowntimeSeconds !== undefined && row.writerDowntimeSeconds > 0);
      assert.ok(existsSync(join(ref, "encryption-key.age")), "the key flags apply to every cluster");
      assert.deepEqual(await markers(ref), [markerKey(c)], "the snapshot is this cluster's etcd, not another's");
      const v = await runCli(["verify", ref]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
    }
    const listed = await runCli(["list", "--from", store, "-o", "json"]);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ label: string }>).map((b) => b.label).sort(),
      IN_CLUSTERS.map(label),
    );
    const fleet = await runCli(["list", "--fleet", "--from", store, "-o", "json"]);
    assert.equal(fleet.code, 0, fleet.stderr);
    assert.deepEqual(
      (JSON.parse(fleet.stdout) as Array<{ label: string; status: string; lastVerified?: unknown }>).map((x) => [
        x.label,
        x.status,
        x.lastVerified !== undefined,
      ]),
      IN_CLUSTERS.map((c) => [label(c), "ok", true]),
      "verify's read-back shows as the last verification",
    );
    for (const c of IN_CLUSTERS) assert.deepEqual(await clusterState(lab, c.namespace, c.name), ORIGINAL_STATE);
    assert.deepEqual(await clusterState(lab, "staging", "delta"), ORIGINAL_STATE);
  });

  it("--all-namespaces with a label selector, --mode online: only the matching clusters, in every namespace, writers untouched", async () => {
    for (const c of [CLUSTERS[0], CLUSTERS[3]])
      await lab.api.patchHostedCluster(c.namespace, c.name, { metadata: { labels: { tier: "gold" } } });
    const store = join(lab.work, "gold");
    const r = await runCli([
      "backup",
      "-A",
      "-l",
      "tier=gold",
      "--mode",
      "online",
      ...kube,
      "--to",
      store,
      "--no-key",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(
      report.results.map((x) => [x.cluster, x.status, x.writerDowntimeSeconds]),
      [
        ["clusters/alpha", "ok", undefined],
        ["staging/delta", "ok", undefined],
      ],
    );
    for (const row of report.results) {
      const manifest = JSON.parse(readFileSync(join(row.ref as string, "manifest.json"), "utf8"));
      assert.equal(manifest.mode, "online");
      assert.deepEqual(manifest.encryption.keys, [], "--no-key applies to every cluster");
    }
    assert.deepEqual(await clusterState(lab, "staging", "delta"), ORIGINAL_STATE);
    const none = await runCli([
      "backup",
      "--all",
      "-n",
      "clusters",
      "-l",
      "tier=none",
      ...kube,
      "--to",
      store,
      "--no-key",
    ]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout.trim(), "no hosted clusters in namespace clusters matching tier=none");
  });

  it("one etcd down: that cluster is reported failed and left as it was, the others succeed, exit 1", async () => {
    const beta = lab.etcds.get("clusters/beta");
    assert.ok(beta);
    await beta.kill(0);
    try {
      const store = join(lab.work, "one-down");
      const r = await runCli([
        "backup",
        "--all",
        "-n",
        "clusters",
        ...kube,
        "--to",
        store,
        "--key-recipient",
        recipient,
        "--parallel",
        "3",
        "--metrics-file",
        join(lab.work, "one-down.prom"),
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      // Each cluster's outcome reaches the metrics: two successes, beta's failure with no success.
      const prom = readFileSync(join(lab.work, "one-down.prom"), "utf8");
      const series = (name: string) =>
        prom
          .split("\n")
          .filter((l) => l.startsWith(`${name}{`))
          .map((l) => /cluster="([^"]+)"/.exec(l)?.[1])
          .sort();
      assert.deepEqual(series("hcp_etcd_backup_last_success_timestamp_seconds"), ["clusters/alpha", "clusters/gamma"]);
      assert.deepEqual(series("hcp_etcd_backup_last_failure_timestamp_seconds"), ["clusters/beta"]);
      // The failure is logged as it happens (a warning), then summed up in the last line.
      assert.match(r.stderr, /warn\s+backup failed cluster=clusters\/beta error=.*etcd/);
      assert.match(r.stderr, /\nhcp-etcd-backup: 1 of 3 hosted-cluster backups failed: clusters\/beta\n$/);
      assert.equal(r.stderr.trim().split("\n").length, 2, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.match(lines[0] ?? "", /^CLUSTER\s+STATUS\s+BACKUP\s+SIZE\s+DURATION\s+DETAIL$/);
      assert.match(
        lines[1] ?? "",
        /^clusters\/alpha\s+OK\s+\d{8}T\d{6}Z-r\d+-[0-9a-f]{6}\s+[\d.]+ MiB\s+[\d.]+s\s+writers down/,
      );
      assert.match(lines[2] ?? "", /^clusters\/beta\s+FAILED\s+-\s+-\s+[\d.]+s\s+\S.*etcd/i);
      assert.match(lines[3] ?? "", /^clusters\/gamma\s+OK\s+/);
      assert.deepEqual(readdirSync(store).sort(), ["clusters"]);
      assert.deepEqual(readdirSync(join(store, "clusters")).sort(), ["alpha", "gamma"], "no trace of beta's attempt");
      for (const c of IN_CLUSTERS) assert.deepEqual(await clusterState(lab, c.namespace, c.name), ORIGINAL_STATE);
    } finally {
      await beta.restart(0);
    }
  });

  it("refuses what makes no sense with --all, each in one line, exit 2", async () => {
    for (const [args, pattern] of [
      [["--all", "-n", "clusters", "--endpoints", "https://127.0.0.1:2379"], /--endpoints names one etcd/],
      [["alpha", "--all", "-n", "clusters"], /--all backs up every hosted cluster: drop "alpha"/],
      [["--all"], /--all needs -n <namespace> or --all-namespaces/],
      [["--all", "-A", "-n", "clusters"], /-n\/--namespace and --all-namespaces: choose one/],
      [["alpha", "-n", "clusters", "--parallel", "3"], /--parallel: these apply to backup --all only/],
      [["--all", "-n", "clusters", "--parallel", "0"], /--parallel must be 1 to 64/],
      [["--all", "-n", "clusters", "--name", "x"], /--name: each hosted cluster's etcd TLS/],
    ] as const) {
      const r = await runCli(["backup", ...args, ...kube, "--to", join(lab.work, "refused"), "--no-key"]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.equal(existsSync(join(lab.work, "refused")), false);
  });

  it("--dry-run plans every cluster and changes nothing; a HostedCluster with Unmanaged etcd is skipped with the reason, not failed", async () => {
    const custom = loadKubeConfig({ kubeconfig: lab.kubeconfig }).makeApiClient(CustomObjectsApi);
    const hc = {
      group: "hypershift.openshift.io",
      version: "v1beta1",
      plural: "hostedclusters",
      namespace: "clusters",
    };
    const alpha = (await lab.api.getHostedCluster("clusters", "alpha")) as { spec: Record<string, unknown> };
    await custom.createNamespacedCustomObject({
      ...hc,
      body: {
        apiVersion: "hypershift.openshift.io/v1beta1",
        kind: "HostedCluster",
        metadata: { name: "external", namespace: "clusters" },
        spec: {
          ...alpha.spec,
          etcd: {
            managementType: "Unmanaged",
            unmanaged: { endpoint: "https://etcd.example.com:2379", tls: { clientSecret: { name: "external-etcd" } } },
          },
        },
      },
    });
    try {
      const store = join(lab.work, "dry-run");
      const r = await runCli([
        "backup",
        "--all",
        "-n",
        "clusters",
        ...kube,
        "--to",
        store,
        "--no-key",
        "--dry-run",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { results: Array<Row & { reason?: string; steps?: string[] }> };
      assert.deepEqual(
        report.results.map((x) => [x.cluster, x.status]),
        [
          ["clusters/alpha", "planned"],
          ["clusters/beta", "planned"],
          ["clusters/external", "skipped"],
          ["clusters/gamma", "planned"],
        ],
      );
      assert.match(report.results[2]?.reason ?? "", /Unmanaged.*--endpoints and --name/);
      assert.match(report.results[0]?.steps?.[0] ?? "", /^lock clusters\/alpha and journal/);
      assert.equal(existsSync(store), false);
      for (const c of IN_CLUSTERS) assert.deepEqual(await clusterState(lab, c.namespace, c.name), ORIGINAL_STATE);
    } finally {
      await custom.deleteNamespacedCustomObject({ ...hc, name: "external" });
    }
  });

  // Last: it swaps the simulator's controllers for slow ones.
  it("one Ctrl-C stops every running backup; each cluster is resumed, nothing is committed, exit 130", async () => {
    // Writer pods that take minutes to terminate hold all three backups in their quiesced window.
    lab.setControllers({ podTerminationMs: 600_000 });
    try {
      const store = join(lab.work, "interrupted");
      const cli = spawnCli([
        "backup",
        "--all",
        "-n",
        "clusters",
        ...kube,
        "--to",
        store,
        "--key-recipient",
        recipient,
        "--parallel",
        "3",
        "--log-format",
        "json",
        "-o",
        "json",
      ]);
      const scaledDown = IN_CLUSTERS.map((c) =>
        cli.waitForLine(new RegExp(`^(?=.*"cluster":"${label(c)}")(?=.*"msg":"writers scaled to zero")`)),
      );
      await Promise.all(scaledDown);
      for (const c of IN_CLUSTERS) {
        const s = await clusterState(lab, c.namespace, c.name);
        assert.ok(s.journal && s.pausedUntil !== undefined, `${label(c)} is quiesced when the signal comes`);
      }
      cli.child.kill("SIGINT");
      const exit = await cli.exited;
      assert.equal(exit.code, 130, cli.stderr());
      const report = JSON.parse(cli.stdout()) as Report;
      assert.deepEqual(
        report.results.map((x) => [x.cluster, x.status]),
        IN_CLUSTERS.map((c) => [label(c), "cancelled"]),
      );
      assert.equal(
        existsSync(store)
          ? readdirSync(store, { recursive: true }).filter((f) => String(f).endsWith("manifest.json")).length
          : 0,
        0,
      );
      lab.setControllers({});
      lab.finishTerminatingPods();
      const states = await allBack(IN_CLUSTERS);
      for (const s of states) assert.deepEqual(s, ORIGINAL_STATE);
    } finally {
      lab.setControllers({});
    }
  });
});
