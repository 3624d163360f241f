import { CustomObjectsApi } from "@kubernetes/client-node";
import { parseHostedCluster } from "../hostedcluster/discovery.js";
import { kubeError, type ManagementCluster } from "../hostedcluster/kube.js";
import { HYPERSHIFT_GROUP } from "./backup-access.js";
import type { FleetMember } from "./manifests.js";

/**
 * The hosted clusters a schedule covers, read from the management cluster: `namespace` or every
 * namespace. Clusters with Unmanaged etcd are left out (the backup refuses them, so the schedule
 * grants nothing for them).
 */
export async function listFleet(cluster: ManagementCluster, namespace: string | undefined): Promise<FleetMember[]> {
  const api = cluster.config.makeApiClient(CustomObjectsApi);
  const where = { group: HYPERSHIFT_GROUP, version: "v1beta1", plural: "hostedclusters" };
  const list = (await (namespace === undefined
    ? api.listClusterCustomObject(where)
    : api.listNamespacedCustomObject({ ...where, namespace })
  ).catch((err: unknown) => {
    throw kubeError(err, { verb: "list", resource: "hostedclusters", namespace: namespace ?? "(all)" }, cluster.server);
  })) as { items?: unknown[] };
  return (list.items ?? [])
    .map((raw) => fleetMember(raw))
    .filter((m): m is FleetMember => m !== undefined)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** One HostedCluster as the schedule sees it: where it is and which key Secrets its backup reads. */
export function fleetMember(raw: unknown): FleetMember | undefined {
  const m = raw as { metadata?: { namespace?: string; name?: string } };
  const hc = parseHostedCluster(raw, `${m.metadata?.namespace}/${m.metadata?.name}`);
  if (hc.spec.etcd.managementType !== "Managed") return undefined;
  const aescbc = hc.spec.secretEncryption?.type === "aescbc" ? hc.spec.secretEncryption.aescbc : undefined;
  const keySecrets = aescbc ? [aescbc.activeKey.name, ...(aescbc.backupKey ? [aescbc.backupKey.name] : [])] : [];
  return { namespace: hc.metadata.namespace, name: hc.metadata.name, keySecrets };
}

/** HyperShift's `hcp create cluster` names the aescbc key Secret so: what an offline render assumes. */
export function conventionalKeySecret(name: string): string {
  return `${name}-etcd-encryption-key`;
}
