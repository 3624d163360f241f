import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { backupHostedCluster } from "../backup/hosted-backup.js";
import { verifyBackup } from "../backup/verify-backup.js";
import { keyFingerprint } from "../hostedcluster/encryption-key.js";
import { loadKubeConfig, ManagementCluster } from "../hostedcluster/kube.js";
import { DEFAULT_WRITERS, etcdCertificateNames, hcpNamespace } from "../hostedcluster/names.js";
import { KubeSim } from "../kubesim/index.js";
import { LocalEtcdCluster } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import type { Logger } from "../logging.js";
import { readCatalog } from "../store/catalog.js";
import { openStore } from "../store/open-store.js";
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
      const load = await loadKubernetesData(client, { targetBytes: target });
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
    const identity = await generateIdentity();
    const identityFile = join(kept ? storeDir : work, "demo-age-identity.txt");
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
    if (kept)
      report(
        `the backup stays in ${storeDir} with the age identity that opens its key (try: hcp-etcd-backup list --from ${storeDir})`,
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

async function describeCluster(cluster: ManagementCluster, hcpNs: string): Promise<string> {
  const hc = (await cluster.getHostedCluster(NAMESPACE, NAME)) as { spec?: { pausedUntil?: string } };
  const writers = [];
  for (const w of DEFAULT_WRITERS) {
    const d = await cluster.getDeployment(hcpNs, w);
    writers.push(`${w} ${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? 0}`);
  }
  return `pausedUntil ${hc.spec?.pausedUntil ?? "unset"}; ${writers.join(", ")} available`;
}
