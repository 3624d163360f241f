import { UsageError } from "../errors.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import { conventionalKeySecret, fleetMember, scheduledClusters } from "./fleet.js";
import type { FleetMember, ScheduleScope } from "./manifests.js";

/** What the command line says about which clusters a schedule covers. */
export interface ScopeRequest {
  readonly kind: ScheduleScope["kind"];
  /** The one cluster (kind "cluster"). */
  readonly hostedCluster?: string;
  readonly namespace?: string;
  /** The aescbc key Secrets' names, when given instead of read from the HostedCluster. */
  readonly keySecrets?: readonly string[];
  /** `namespace/name,...`: the clusters of an offline `--all` render. */
  readonly clusters?: string;
}

/**
 * The clusters a schedule covers and the key Secrets each backup reads: from the management
 * cluster when there is one, else from the command line (HyperShift's conventional key Secret name).
 */
export async function resolveScope(req: ScopeRequest, cluster: ManagementCluster | undefined): Promise<ScheduleScope> {
  const withKeys = (m: FleetMember): FleetMember => (req.keySecrets ? { ...m, keySecrets: [...req.keySecrets] } : m);
  if (req.kind === "cluster") {
    const namespace = req.namespace as string;
    const name = req.hostedCluster as string;
    const { member, skip } =
      cluster && !req.keySecrets
        ? fleetMember(await cluster.getHostedCluster(namespace, name))
        : { member: { namespace, name, keySecrets: [conventionalKeySecret(name)] } };
    if (!member) throw new UsageError(`${namespace}/${name} is not backed up: ${skip}`);
    return { kind: "cluster", cluster: withKeys(member) };
  }
  const namespace = req.kind === "namespace" ? req.namespace : undefined;
  const clusters =
    req.clusters !== undefined
      ? listedClusters(req.clusters, namespace)
      : await scheduledClusters(cluster as ManagementCluster, namespace);
  if (clusters.length === 0)
    throw new UsageError(`no hosted cluster with managed etcd in ${namespace ?? "any namespace"}: nothing to schedule`);
  return req.kind === "namespace"
    ? { kind: "namespace", namespace: namespace as string, clusters: clusters.map(withKeys) }
    : { kind: "all-namespaces", clusters: clusters.map(withKeys) };
}

function listedClusters(text: string, namespace: string | undefined): FleetMember[] {
  return text
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      const [ns, name, extra] = c.split("/");
      if (!ns || !name || extra !== undefined) throw new UsageError(`--clusters: "${c}" is not namespace/name`);
      if (namespace !== undefined && ns !== namespace)
        throw new UsageError(`--clusters: ${c} is not in namespace ${namespace}`);
      return { namespace: ns, name, keySecrets: [conventionalKeySecret(name)] };
    });
}
