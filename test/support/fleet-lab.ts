// A management cluster with several hosted clusters, each backed by its own real etcd (one member,
// mutual TLS, a server certificate with HyperShift's names for its control-plane namespace): what
// `backup --all` is tested and benchmarked against.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig, ManagementCluster } from "../../src/hostedcluster/kube.js";
import { etcdCertificateNames, hcpNamespace } from "../../src/hostedcluster/names.js";
import {
  type ControllerOptions,
  HyperShiftControllers,
  KubeApiServer,
  seedHostedCluster,
} from "../../src/kubesim/index.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { EtcdCluster, type LoadOptions, loadCluster } from "./etcd-cluster.js";

export interface FleetClusterSpec {
  readonly namespace: string;
  readonly name: string;
}

export interface FleetLab {
  readonly api: ManagementCluster;
  readonly server: KubeApiServer;
  readonly kubeconfig: string;
  readonly work: string;
  /** Each hosted cluster's etcd, by `<namespace>/<name>`. */
  readonly etcds: ReadonlyMap<string, EtcdCluster>;
  /** Replaces HyperShift's simulated controllers (e.g. pods that take long to terminate); resumes are unaffected. */
  setControllers(options: ControllerOptions): void;
  /** Ends every pod's termination at once, as the kubelet does when the grace period is over. */
  finishTerminatingPods(): void;
  stop(): Promise<void>;
}

/** The key each cluster's etcd holds that no other does: proof a backup came from the right etcd. */
export const markerKey = (c: FleetClusterSpec) => `/fleet/${c.namespace}/${c.name}`;

export async function startFleetLab(
  clusters: readonly FleetClusterSpec[],
  options: { dataBytes?: number; quotaBytes?: number; baseDir?: string; load?: Omit<LoadOptions, "targetBytes"> } = {},
): Promise<FleetLab> {
  const etcds = new Map<string, EtcdCluster>();
  let server: KubeApiServer | undefined;
  let controllers: HyperShiftControllers | undefined;
  let work: string | undefined;
  const stopAll = async () => {
    controllers?.stop();
    await server?.stop();
    await Promise.all([...etcds.values()].map((e) => e.stop()));
    if (work) await rm(work, { recursive: true, force: true });
  };
  try {
    // One at a time: a 2-core machine starts and fills them faster than all at once.
    for (const c of clusters) {
      const etcd = await EtcdCluster.start({
        members: 1,
        serverNames: etcdCertificateNames(hcpNamespace(c.namespace, c.name)),
        ...(options.quotaBytes ? { quotaBytes: options.quotaBytes } : {}),
        ...(options.baseDir ? { baseDir: options.baseDir } : {}),
      });
      etcds.set(`${c.namespace}/${c.name}`, etcd);
      await loadCluster(etcd, { ...options.load, targetBytes: options.dataBytes ?? 1 << 20 });
      const client = await etcd.client(0);
      try {
        await client.put(markerKey(c), `${c.namespace}/${c.name}`);
      } finally {
        client.close();
      }
    }
    server = await KubeApiServer.start();
    for (const c of clusters) {
      await seedHostedCluster(server, etcds.get(`${c.namespace}/${c.name}`) as EtcdCluster, c);
    }
    controllers = new HyperShiftControllers(server.store, server.clock);
    work = await mkdtemp(join(tmpdir(), "hcpeb-fleet-"));
    const kubeconfig = await server.kubeconfig(join(work, "kubeconfig"));
    const s = server;
    return {
      api: new ManagementCluster(loadKubeConfig({ kubeconfig })),
      server,
      kubeconfig,
      work,
      etcds,
      setControllers(opts) {
        controllers?.stop();
        controllers = new HyperShiftControllers(s.store, s.clock, opts);
      },
      finishTerminatingPods() {
        const pods = resourceByKind("Pod");
        for (const p of s.store.list(pods)) {
          const m = p.metadata as { namespace: string; name: string; deletionTimestamp?: string };
          if (m.deletionTimestamp) s.store.delete(pods, m.namespace, m.name);
        }
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
