import { parseHostedCluster } from "../hostedcluster/discovery.js";
import { INELIGIBLE_REASON, ineligibility } from "../hostedcluster/eligibility.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import type { FleetMember } from "./manifests.js";

/**
 * The hosted clusters a schedule covers, read from the management cluster: `namespace` or every
 * namespace. Clusters whose etcd is not ours to snapshot (eligibility.ts) are left out: the backup
 * refuses them, so the schedule grants nothing for them.
 */
export async function scheduledClusters(
  cluster: ManagementCluster,
  namespace: string | undefined,
): Promise<FleetMember[]> {
  const list = (await cluster.listHostedClusters(namespace)) as { items?: unknown[] };
  return (list.items ?? [])
    .map((raw) => fleetMember(raw).member)
    .filter((m): m is FleetMember => m !== undefined)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/**
 * One HostedCluster as the schedule sees it: where it is and which key Secrets its backup reads;
 * or why it is skipped.
 */
export function fleetMember(raw: unknown): { readonly member?: FleetMember; readonly skip?: string } {
  const m = raw as { metadata?: { namespace?: string; name?: string } };
  const hc = parseHostedCluster(raw, `${m.metadata?.namespace}/${m.metadata?.name}`);
  const ineligible = ineligibility(hc.spec.etcd);
  if (ineligible) return { skip: INELIGIBLE_REASON[ineligible] };
  const aescbc = hc.spec.secretEncryption?.type === "aescbc" ? hc.spec.secretEncryption.aescbc : undefined;
  const keySecrets = aescbc ? [aescbc.activeKey.name, ...(aescbc.backupKey ? [aescbc.backupKey.name] : [])] : [];
  return { member: { namespace: hc.metadata.namespace, name: hc.metadata.name, keySecrets } };
}

/** HyperShift's `hcp create cluster` names the aescbc key Secret so: what an offline render assumes. */
export function conventionalKeySecret(name: string): string {
  return `${name}-etcd-encryption-key`;
}
