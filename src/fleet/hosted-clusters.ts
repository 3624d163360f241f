import { z } from "zod";
import { OperationError } from "../errors.js";
import { INELIGIBLE_REASON, ineligibility } from "../hostedcluster/eligibility.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";

/** The part of a listed HostedCluster that decides whether `backup --all` takes it; validated here. */
const listedSchema = z.object({
  metadata: z.object({ name: z.string().min(1), namespace: z.string().min(1) }),
  spec: z.object({
    etcd: z
      .object({
        managementType: z.string().optional(),
        managed: z.object({ shards: z.array(z.unknown()).optional() }).optional(),
      })
      .optional(),
  }),
});
const listSchema = z.object({ items: z.array(z.unknown()) });

/** A hosted cluster of the fleet: taken, or skipped with the reason (its etcd is not ours to snapshot). */
export interface FleetMember {
  readonly namespace: string;
  readonly name: string;
  readonly skip?: string;
}

export interface FleetScope {
  /** One namespace, or every namespace when undefined (`--all-namespaces`). */
  readonly namespace?: string;
  /** A Kubernetes label selector, applied by the API server. */
  readonly selector?: string;
  readonly signal?: AbortSignal;
}

/**
 * The HostedClusters in scope, sorted by namespace and name (a stable order for the report).
 * Unmanaged etcd runs outside the control plane and sharded etcd is not supported: those are
 * reported as skipped rather than failed every night; every other cluster is attempted.
 */
export async function listFleet(cluster: ManagementCluster, scope: FleetScope): Promise<FleetMember[]> {
  const where = scope.namespace === undefined ? "all namespaces" : `namespace ${scope.namespace}`;
  const list = listSchema.safeParse(await cluster.listHostedClusters(scope.namespace, scope.selector, scope.signal));
  if (!list.success) throw new OperationError(`the HostedCluster list of ${where} is not a Kubernetes list`);
  const members = list.data.items.map((item, i): FleetMember => {
    const hc = listedSchema.safeParse(item);
    if (!hc.success)
      throw new OperationError(
        `HostedCluster #${i + 1} listed in ${where} is malformed: ${hc.error.issues[0]?.path.join(".")}: ${hc.error.issues[0]?.message}`,
      );
    const { namespace, name } = hc.data.metadata;
    const ineligible = ineligibility(hc.data.spec.etcd);
    const skip = ineligible ? INELIGIBLE_REASON[ineligible] : undefined;
    return { namespace, name, ...(skip ? { skip } : {}) };
  });
  return members.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
