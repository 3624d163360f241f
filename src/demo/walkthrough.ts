import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { backupHostedCluster } from "../backup/hosted-backup.js";
import { verifyBackup } from "../backup/verify-backup.js";
import { CancelledError } from "../errors.js";
import { EtcdClient } from "../etcd/client.js";
import { keyFingerprint } from "../hostedcluster/encryption-key.js";
import { loadKubeConfig, ManagementCluster } from "../hostedcluster/kube.js";
import { DEFAULT_WRITERS, etcdCertificateNames, hcpNamespace } from "../hostedcluster/names.js";
import { KubeSim } from "../kubesim/index.js";
import { LocalEtcdCluster } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import type { Logger } from "../logging.js";
import { compareKeyStreams, liveKeyStates } from "../restore/compare-live.js";
import { restoreDrill } from "../restore/drill.js";
import { type RestoreLocalResult, restoreLocal } from "../restore/local.js";
import { shellLine } from "../restore/member-plan.js";
import { DEFAULT_EXPIRY_SECONDS } from "../restore/prepare/expiry.js";
import { writeSecretFile } from "../restore/prepare/files.js";
import { prepareRestore, type SnapshotLink } from "../restore/prepare/prepare.js";
import { sortLiveKeys } from "../restore/sorted-live-keys.js";
import { readCatalog } from "../store/catalog.js";
import { openStore } from "../store/open-store.js";
import { RENDERED_EXAMPLE } from "./rendered-example.js";
import { loadKubernetesData } from "./sample-data.js";

export interface DemoOptions {
  readonly members?: number;
  /** Bytes of sample data to load (default 8 MiB). */
  readonly dataBytes?: number;
  /** Back up into this directory and leave it there (default: a temp directory, removed at the end). */
  readonly storeDir?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Registers cleanups with the process owner (the resume of the simulated cluster, if interrupted). */
  readonly defer?: (name: string, cleanup: () => Promise<void>) => () => void;
  /** Receives one human-readable line per step. */
  readonly report: (line: string) => void;
  /**
   * After the walk-through, leave the simulated management cluster and its etcd up, print the
   * commands to try against them (starting with `command`, how this tool is run), and stop only
   * when `signal` aborts. Requires `signal`.
   */
  readonly keepRunning?: { readonly command: string };
}

export interface DemoResult {
  readonly members: number;
  readonly keys: number;
  readonly revision: number;
  readonly backupRef: string;
  readonly writerDowntimeSeconds: number | undefined;
}

const NAMESPACE = "clusters";
const NAME = "example";

/**
 * The sandbox walk-through: a real local etcd shaped like a hosted control plane's (3 members,
 * mutual TLS, HyperShift's certificate names), filled with Kubernetes-like data, and a simulated
 * management cluster (src/kubesim) whose HostedCluster `clusters/example` runs on it. The tool backs
 * that hosted cluster up as it would on OpenShift — pause, writers to zero, snapshot, resume, key
 * sealed — into a local store, lists and verifies it, and shows the cluster back as it was.
 * Everything it starts is gone when it returns or throws.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { report } = options;
  const started = Date.now();
  const hcpNs = hcpNamespace(NAMESPACE, NAME);
  report(`starting a local ${options.members ?? 3}-member etcd with mutual TLS on 127.0.0.1 ...`);
  const etcd = await LocalEtcdCluster.start({
    members: options.members ?? 3,
    serverNames: etcdCertificateNames(hcpNs),
  });
  const work = await mkdtemp(join(tmpdir(), "hcpeb-demo-"));
  trackDir(work);
  let sim: KubeSim | undefined;
  try {
    const statuses = await etcd.statuses();
    report(
      `etcd ${statuses[0]?.version ?? "?"} is healthy: ${statuses.length} members (${((Date.now() - started) / 1000).toFixed(1)}s)`,
    );
    const client = await etcd.client(0);
    let count: number;
    try {
      const target = options.dataBytes ?? 8 * 1024 * 1024;
      report(`loading ${(target / 1048576).toFixed(0)} MiB of Kubernetes-like objects under /kubernetes.io/ ...`);
      const load = await loadKubernetesData(client, { targetBytes: target, signal: options.signal });
      count = await client.count("/kubernetes.io/");
      report(
        `loaded ${load.keys} keys; etcd reports ${count} live keys under /kubernetes.io/, revision ${load.revision}`,
      );
    } finally {
      client.close();
    }
    sim = await KubeSim.start(etcd);
    const kubeconfig = await sim.kubeconfig(join(work, "kubeconfig"));
    report(
      `simulated management cluster at ${sim.url} (a stand-in for OpenShift with HyperShift): HostedCluster ${NAMESPACE}/${NAME}, its control plane in ${hcpNs} runs on that etcd`,
    );
    const cluster = new ManagementCluster(loadKubeConfig({ kubeconfig }));
    report(`  before: ${await describeCluster(cluster, hcpNs)}`);

    const kept = options.storeDir !== undefined;
    const storeDir = options.storeDir ?? join(work, "store");
    const identityFile = join(kept ? storeDir : work, "demo-age-identity.txt");
    // A kept store's identity opens the keys of its earlier backups too: reuse it, never replace it.
    const identity =
      (await readFile(identityFile, "utf8").catch(() => undefined))?.trim() || (await generateIdentity());
    const store = openStore(storeDir);
    report(
      `backing up ${NAMESPACE}/${NAME} into ${storeDir}: pause, writers to 0, snapshot (verified), resume, key sealed with age ...`,
    );
    const r = await backupHostedCluster({
      cluster,
      namespace: NAMESPACE,
      name: NAME,
      store,
      mode: "quiesced",
      key: { kind: "recipients", recipients: [await identityToRecipient(identity)] },
      signal: options.signal,
      logger: options.logger,
      defer: options.defer,
    });
    if (r.dryRun) throw new Error("unreachable: the demo does not dry-run");
    const m = r.manifest;
    report(
      `backup ${m.backupId}: revision ${m.snapshot.revision}, ${(m.snapshot.objectSize / 1048576).toFixed(1)} MiB from ${m.source.member.name} (reached by ${r.access}); writers were down ${m.writerDowntime?.seconds.toFixed(1)}s`,
    );
    report(
      `  encryption key ${m.encryption?.keys[0]?.keyName} sealed as ${m.encryption?.object}; its fingerprint ${m.encryption?.keys[0]?.fingerprint.slice(0, 16)}... matches the cluster's key: ${m.encryption?.keys[0]?.fingerprint === keyFingerprint(sim.hostedCluster.encryptionKey) ? "yes" : "NO"}`,
    );
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    await chmod(identityFile, 0o600);
    report(`  after:  ${await describeCluster(cluster, hcpNs)}`);

    const catalog = await readCatalog(store, { signal: options.signal });
    report(`list: ${catalog.backups.length} backup(s) in the store`);
    for (const e of catalog.backups)
      report(`  ${e.ref}  ${e.manifest.label}  ${e.manifest.mode}  revision ${e.manifest.snapshot.revision}`);
    const v = await verifyBackup(openStore(r.ref), { signal: options.signal });
    report(`verify: ${v.verification.ok ? "OK" : "FAILED"} (${v.verification.checks.join(", ")})`);
    await restoreSteps({ ...options, ref: r.ref, work, kept, storeDir, identityFile });
    if (options.keepRunning) {
      const recipient = await identityToRecipient(identity);
      await keepRunning(options, {
        kubeconfig,
        storeDir,
        ref: r.ref,
        recipient,
        restoreDir: join(work, "try-restore"),
      });
    }
    if (kept)
      report(
        `the backup stays in ${storeDir} with the age identity that opens its key and the patched restore-example.yaml (try: hcp-etcd-backup list --from ${storeDir})`,
      );
    else report(`removed the temporary store ${storeDir} (keep one with --store DIR)`);
    return {
      members: statuses.length,
      keys: count,
      revision: m.snapshot.revision,
      backupRef: r.ref,
      writerDowntimeSeconds: m.writerDowntime?.seconds,
    };
  } finally {
    await sim?.stop();
    await etcd.stop();
    releaseDir(work);
    report("stopped the local etcd and the simulated cluster, removed their files");
  }
}

/**
 * Leaves everything up and prints what to try, then waits for Ctrl-C/SIGTERM (the interrupt aborts
 * `signal`); the caller's finally stops the daemons and removes the temp files, and the interrupt
 * exits 130/143.
 */
async function keepRunning(
  o: DemoOptions,
  at: { kubeconfig: string; storeDir: string; ref: string; recipient: string; restoreDir: string },
): Promise<void> {
  const signal = o.signal;
  if (!signal || !o.keepRunning) throw new Error("keepRunning needs an abort signal");
  const tool = shellLine([o.keepRunning.command]);
  const q = (args: string[]) => `${tool} ${shellLine(args)}`;
  o.report("the simulated management cluster and its etcd keep running; try (in another shell):");
  const kube = ["-n", NAMESPACE, "--kubeconfig", at.kubeconfig];
  o.report(`  ${q(["backup", NAME, ...kube, "--to", at.storeDir, "--key-recipient", at.recipient])}`);
  o.report(`  ${q(["list", "--from", at.storeDir])}`);
  o.report(`  ${q(["verify", at.ref, "--restore-drill"])}`);
  o.report(`  ${q(["restore", "local", at.ref, "--members", "3", "--data-dir", at.restoreDir])}`);
  o.report(`  ${q(["resume", NAME, ...kube])}`);
  o.report(`kubeconfig: ${at.kubeconfig}`);
  o.report("press Ctrl-C to stop everything and remove the temporary files");
  if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  throw signal.reason instanceof Error ? signal.reason : new CancelledError("the demo was stopped");
}

async function describeCluster(cluster: ManagementCluster, hcpNs: string): Promise<string> {
  const hc = (await cluster.getHostedCluster(NAMESPACE, NAME)) as { spec?: { pausedUntil?: string } };
  const writers = [];
  for (const w of DEFAULT_WRITERS) {
    const d = await cluster.getDeployment(hcpNs, w);
    writers.push(`${w} ${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? 0}`);
  }
  return `pausedUntil ${hc.spec?.pausedUntil ?? "unset"}; ${writers.join(", ")} available`;
}

/**
 * The restore half of the walk-through: a restore drill, `restore prepare` on the cluster's rendered
 * manifests, `restore local` into three data directories, and the proof that the etcd started on them
 * serves exactly the backed-up keys.
 */
async function restoreSteps(
  o: DemoOptions & { ref: string; work: string; kept: boolean; storeDir: string; identityFile: string },
): Promise<void> {
  const { report, signal, logger } = o;
  const drill = await restoreDrill(openStore(o.ref), { scratchDir: o.work, signal, logger });
  report(
    `verify --restore-drill: ${drill.verification.ok ? "OK" : "FAILED"} in ${drill.seconds.toFixed(1)}s: ${drill.verification.detail}`,
  );

  // A local store has no URL HyperShift's etcd-init could download (it runs curl in the etcd pod);
  // with an S3 store this is the presigned SigV4 URL. The stand-in shows every other part of the patch.
  const standIn: SnapshotLink = {
    presign: async () => `https://s3.example.invalid/backups/${o.ref.split("/").slice(-3).join("/")}/snapshot.db`,
    credentials: async () => ({ temporary: false }),
    standIn:
      "a stand-in: a local store has no URL etcd-init could download; an S3 store gives a presigned SigV4 URL, checked for length, scheme, expiry and the credentials that signed it",
  };
  const prepared = await prepareRestore({
    store: openStore(o.ref),
    rendered: { text: RENDERED_EXAMPLE, where: "the demo's rendered clusters/example" },
    expiresInSeconds: DEFAULT_EXPIRY_SECONDS,
    key: { identityFile: o.identityFile },
    link: standIn,
    signal,
    logger,
  });
  report(
    "restore prepare: the manifests `hcp create cluster aws --render --render-sensitive` prints for clusters/example, patched (an S3 store gives a presigned URL; a local one a stand-in):",
  );
  for (const c of prepared.checks) report(`  ${c.status.toUpperCase().padEnd(7)} ${c.id}: ${c.reason}`);
  for (const ch of prepared.changes) report(`  changed ${ch.object}: ${ch.path}: ${ch.from} -> ${ch.to}`);
  if (o.kept && prepared.yaml !== undefined) {
    const out = join(o.storeDir, "restore-example.yaml");
    await writeSecretFile(out, prepared.yaml);
    report(`  wrote ${out} (0600: it holds the saved key)`);
  }

  // restore local chooses the ports the data is restored for; should one be taken before etcd starts
  // on it (a busy machine), the data is restored again for new ones.
  let restored: RestoreLocalResult | undefined;
  const cluster = await LocalEtcdCluster.startRestored(async (attempt) => {
    if (attempt > 1) report("  a port was taken before etcd started on it: restoring again for new ports");
    const dataDir = join(o.work, `restored-${attempt}`);
    const r = await restoreLocal({
      source: { kind: "backup", store: openStore(o.ref) },
      dataDir,
      layout: { kind: "loopback", members: 3 },
      signal,
      logger,
    });
    report(
      `restore local: ${r.members.length} data directories for a new cluster on 127.0.0.1 (${r.members.map((m) => m.name).join(", ")}), revision ${r.revision}`,
    );
    restored = r;
    return {
      members: r.members.map((m) => ({
        name: m.name,
        dataDir: m.dataDir,
        peerPort: Number(new URL(m.peerURLs[0] as string).port),
      })),
      discard: () => rm(dataDir, { recursive: true, force: true }),
    };
  });
  const revision = (restored as RestoreLocalResult).revision;
  try {
    const statuses = await cluster.statuses();
    const ids = new Set(statuses.map((s) => s.clusterId));
    report(
      `  started: ${statuses.length} members, ${ids.size} cluster ID, ${statuses.filter((s) => s.isLeader).length} leader`,
    );
    const client = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: await cluster.tlsMaterial(),
      signal,
    });
    const sorted = sortLiveKeys(join(o.ref, "snapshot.db"), { scratchDir: o.work, signal });
    try {
      const c = await compareKeyStreams(await sorted, liveKeyStates(client, { revision: revision }));
      report(
        `  the restored etcd serves ${c.liveKeys} keys at revision ${revision}; the backup holds ${c.snapshotKeys}: ${c.equal ? "every key and value equal" : `DIFFERENT (${c.missing} missing, ${c.extra} extra, ${c.changed} changed)`}`,
      );
      if (!c.equal) throw new Error("the restored etcd does not hold the backed-up keys");
    } finally {
      await sorted.then((s) => s.dispose()).catch(() => {});
      client.close();
    }
  } finally {
    await cluster.stop();
  }
}
