// A management cluster for the hosted-cluster backup's tests: the Kubernetes API simulator
// (src/kubesim) with a seeded HostedCluster whose etcd pods forward to a real 3-member etcd.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOURNAL_ANNOTATION } from "../../src/hostedcluster/journal.js";
import { loadKubeConfig, ManagementCluster } from "../../src/hostedcluster/kube.js";
import { DEFAULT_WRITERS, etcdCertificateNames } from "../../src/hostedcluster/names.js";
import { KubeSim, type KubeSimOptions } from "../../src/kubesim/index.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { EtcdCluster, type EtcdClusterOptions, loadCluster } from "./etcd-cluster.js";
import { waitFor } from "./wait.js";

export interface HostedLab {
  readonly etcd: EtcdCluster;
  readonly sim: KubeSim;
  readonly kubeconfig: string;
  readonly api: ManagementCluster;
  readonly work: string;
  stop(): Promise<void>;
}

export async function startHostedLab(
  options: { dataBytes?: number; sim?: KubeSimOptions; etcd?: EtcdClusterOptions } = {},
): Promise<HostedLab> {
  // The etcd stands in for clusters-example's: its server certificate carries HyperShift's names.
  const etcd = await EtcdCluster.start({ serverNames: etcdCertificateNames("clusters-example"), ...options.etcd });
  let sim: KubeSim | undefined;
  let work: string | undefined;
  try {
    await loadCluster(etcd, { targetBytes: options.dataBytes ?? 4 * 1024 * 1024 });
    sim = await KubeSim.start(etcd, options.sim);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    const kubeconfig = await sim.kubeconfig(join(work, "kubeconfig"));
    const api = new ManagementCluster(loadKubeConfig({ kubeconfig }));
    const s = sim;
    const w = work;
    return {
      etcd,
      sim,
      kubeconfig,
      api,
      work,
      async stop() {
        await s.stop();
        await etcd.stop();
        await rm(w, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await sim?.stop();
    await etcd.stop();
    if (work) await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/** What "the cluster is back" means: pausedUntil, each writer's replicas and pods, no journal. */
export interface ClusterState {
  readonly pausedUntil: string | undefined;
  readonly journal: boolean;
  readonly writers: Record<string, { replicas: number; pods: number }>;
}

/** The seeded cluster as HyperShift leaves it: not paused, every writer at 3 replicas with 3 pods, no journal. */
export const ORIGINAL_STATE: ClusterState = {
  pausedUntil: undefined,
  journal: false,
  writers: {
    "kube-apiserver": { replicas: 3, pods: 3 },
    "openshift-apiserver": { replicas: 3, pods: 3 },
    "openshift-oauth-apiserver": { replicas: 3, pods: 3 },
  },
};

export async function clusterState(
  lab: Pick<HostedLab, "api">,
  ns = "clusters",
  name = "example",
): Promise<ClusterState> {
  const hc = (await lab.api.getHostedCluster(ns, name)) as {
    spec: { pausedUntil?: string };
    metadata: { annotations?: Record<string, string> };
  };
  const hcpNs = `${ns}-${name}`;
  const writers: Record<string, { replicas: number; pods: number }> = {};
  for (const w of DEFAULT_WRITERS) {
    const scale = await lab.api.getDeploymentScale(hcpNs, w);
    const pods = await lab.api.listPods(hcpNs, `app=${w}`);
    writers[w] = { replicas: scale.spec?.replicas ?? 0, pods: pods.items.length };
  }
  return {
    pausedUntil: hc.spec.pausedUntil,
    journal: hc.metadata.annotations?.[JOURNAL_ANNOTATION] !== undefined,
    writers,
  };
}

/**
 * The cluster state once every writer is at 3 replicas with 3 pods again: the simulator's controllers
 * act on timers, so "back" is polled for, then the caller asserts the whole state.
 */
export function writersBack(lab: HostedLab, what = "the writers to be back"): Promise<ClusterState> {
  return waitFor(
    what,
    async () => {
      const s = await clusterState(lab);
      return Object.values(s.writers).every((w) => w.replicas === 3 && w.pods === 3) ? s : undefined;
    },
    15_000,
  );
}

/**
 * The example cluster in the middle of a key rotation while `body` runs: a Secret `secret` holding
 * `key`, named as the HostedCluster's aescbc backupKey. Both are put back afterwards, whatever happened.
 */
export async function duringKeyRotation(
  lab: HostedLab,
  secret: string,
  key: Buffer,
  body: () => Promise<void>,
): Promise<void> {
  const secretRt = resourceByKind("Secret");
  const hcRt = resourceByKind("HostedCluster");
  const source = lab.sim.store.mustGet(hcRt, "clusters", "example");
  lab.sim.store.create(
    secretRt,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secret, namespace: "clusters" },
      data: { key: key.toString("base64") },
    },
    new Date(),
  );
  try {
    const rotating = structuredClone(source);
    (rotating.spec as { secretEncryption: { aescbc: Record<string, unknown> } }).secretEncryption.aescbc.backupKey = {
      name: secret,
    };
    lab.sim.store.update(hcRt, rotating);
    await body();
  } finally {
    lab.sim.store.delete(secretRt, "clusters", secret);
    // Without a resourceVersion the update is unconditional: the source is put back whatever happened since.
    const back = structuredClone(source);
    delete (back.metadata as Record<string, unknown>).resourceVersion;
    lab.sim.store.update(hcRt, back);
  }
}
