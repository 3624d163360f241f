// The tests use the same sandbox cluster as `hcp-etcd-backup demo`: one implementation, exercised both ways.

export { type LoadOptions, type LoadResult, loadKubernetesData } from "../../src/sandbox/data-loader.js";
export { EtcdCluster, type EtcdClusterOptions, SANDBOX_DIR_PREFIX } from "../../src/sandbox/etcd-cluster.js";
