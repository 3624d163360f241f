// The tests use the same sandbox cluster as `hcp-etcd-backup demo`: one implementation, exercised both ways.
import { type LoadOptions, type LoadResult, loadKubernetesData } from "../../src/demo/sample-data.js";
import type { EtcdCluster } from "../../src/localetcd/cluster.js";

export { type LoadOptions, type LoadResult, loadKubernetesData } from "../../src/demo/sample-data.js";
export { EtcdCluster, type EtcdClusterOptions, SANDBOX_DIR_PREFIX } from "../../src/localetcd/cluster.js";

import { reapOnSignals } from "./signals.js";

reapOnSignals();

/** Loads Kubernetes-like data through a client of member 0 that lives only for the load. */
export async function loadCluster(cluster: EtcdCluster, options: LoadOptions): Promise<LoadResult> {
  const client = await cluster.client(0);
  try {
    return await loadKubernetesData(client, options);
  } finally {
    client.close();
  }
}
