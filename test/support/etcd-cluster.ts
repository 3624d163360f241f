// The tests use the same local etcd as `hcp-etcd-backup demo` (src/localetcd), plus what only tests
// do to it: kill, stop and restart members.
import { type LoadOptions, type LoadResult, loadKubernetesData } from "../../src/demo/sample-data.js";
import { OperationError } from "../../src/errors.js";
import type { SandboxPki } from "../../src/localetcd/certs.js";
import { type EtcdClusterOptions, LocalEtcdCluster, type MemberSpec } from "../../src/localetcd/cluster.js";
import { reapOnSignals } from "./signals.js";

export { type LoadOptions, type LoadResult, loadKubernetesData } from "../../src/demo/sample-data.js";
export { type EtcdClusterOptions, SANDBOX_DIR_PREFIX } from "../../src/localetcd/cluster.js";

reapOnSignals();

/** A local etcd whose members tests can crash, stop and bring back. */
export class EtcdCluster extends LocalEtcdCluster {
  static override async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    return LocalEtcdCluster.launch(
      options,
      (dir: string, pki: SandboxPki, specs: MemberSpec[]) => new EtcdCluster(dir, pki, specs, options),
    );
  }

  pid(i: number): number | undefined {
    return this.isRunning(i) ? this.procs[i]?.pid : undefined;
  }

  /** SIGKILL one member: an abrupt crash. */
  async kill(i: number): Promise<void> {
    await this.signal(i, "SIGKILL");
  }

  /** SIGTERM one member and wait for it to exit: an orderly shutdown. */
  async stopMember(i: number): Promise<void> {
    await this.signal(i, "SIGTERM");
  }

  /** Starts a stopped or killed member again on its data directory and waits until it serves. */
  async restart(i: number): Promise<void> {
    if (this.isRunning(i)) throw new OperationError(`etcd ${this.spec(i).name} is already running`);
    this.launchMember(i);
    await this.waitHealthy([i]);
  }
}

/** Loads Kubernetes-like data through a client of member 0 that lives only for the load. */
export async function loadCluster(cluster: LocalEtcdCluster, options: LoadOptions): Promise<LoadResult> {
  const client = await cluster.client(0);
  try {
    return await loadKubernetesData(client, options);
  } finally {
    client.close();
  }
}
