/** The part of a HostedCluster's spec that decides whether its etcd is this tool's to snapshot. */
export interface EtcdSpec {
  readonly managementType?: string;
  readonly managed?: { readonly shards?: readonly unknown[] };
}

export type Ineligible = "unmanaged" | "sharded";

/** Why each kind of etcd is left alone, as discovery refuses it and the fleet and schedule skip it. */
export const INELIGIBLE_REASON: Readonly<Record<Ineligible, string>> = {
  unmanaged: "etcd is Unmanaged (outside the control plane): back it up with --endpoints and --name",
  sharded: "sharded etcd is not supported yet",
};

/**
 * The one rule of which hosted clusters are backed up: Unmanaged etcd runs outside the hosted
 * control plane (no pods of ours to reach), and sharded etcd is not supported yet. Undefined: eligible.
 */
export function ineligibility(etcd: EtcdSpec | undefined): Ineligible | undefined {
  if (etcd?.managementType === "Unmanaged") return "unmanaged";
  if ((etcd?.managed?.shards?.length ?? 0) > 0) return "sharded";
  return undefined;
}
