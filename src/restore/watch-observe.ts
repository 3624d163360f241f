import type { V1Pod } from "@kubernetes/client-node";
import { z } from "zod";
import { OperationError, UsageError } from "../errors.js";
import { KubeNotFoundError, type ManagementCluster } from "../hostedcluster/kube.js";
import { ETCD_STATEFULSET, hcpNamespace } from "../hostedcluster/names.js";
import { withoutUrlSecrets } from "../redact.js";

export const ETCD_SNAPSHOT_RESTORED = "EtcdSnapshotRestored";

const conditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

/** The part of a HostedCluster or HostedControlPlane the watch reads. */
const restoreSchema = z.object({
  spec: z.object({
    etcd: z
      .object({
        managed: z
          .object({ storage: z.object({ restoreSnapshotURL: z.array(z.string()).optional() }).optional() })
          .optional(),
      })
      .optional(),
  }),
  status: z.object({ conditions: z.array(conditionSchema).optional() }).optional(),
});

/** One look at the hosted cluster's restore: what the API server says right now. */
export interface Observation {
  readonly hcpNamespace: string;
  /** The HostedCluster's restoreSnapshotURL, signature redacted; undefined when it restores nothing. */
  readonly restoreUrl: string | undefined;
  readonly hostedClusterCondition: Condition | undefined;
  /** undefined while the HostedControlPlane does not exist yet. */
  readonly controlPlane: { readonly condition: Condition | undefined } | undefined;
  readonly statefulSet: { readonly replicas: number; readonly ready: number } | undefined;
  readonly pods: readonly V1Pod[];
}

export async function observe(
  cluster: ManagementCluster,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<Observation> {
  const hcpNs = hcpNamespace(namespace, name);
  const hcRaw = await cluster.getHostedCluster(namespace, name, signal).catch((err: unknown) => {
    if (err instanceof KubeNotFoundError)
      throw new UsageError(
        `hosted cluster ${namespace}/${name} not found (kubectl get hostedclusters -n ${namespace} lists them)`,
        { cause: err },
      );
    throw err;
  });
  const hc = parse(hcRaw, `HostedCluster ${namespace}/${name}`);
  const hcpRaw = await orMissing(cluster.getHostedControlPlane(hcpNs, name, signal));
  const sts = await orMissing(cluster.getStatefulSet(hcpNs, ETCD_STATEFULSET, signal));
  const pods = sts ? (await cluster.listPods(hcpNs, "app=etcd", signal)).items : [];
  pods.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "", "en", { numeric: true }));
  const url = hc.spec.etcd?.managed?.storage?.restoreSnapshotURL?.[0];
  return {
    hcpNamespace: hcpNs,
    restoreUrl: url === undefined ? undefined : withoutUrlSecrets(url),
    hostedClusterCondition: conditionOf(hc),
    controlPlane:
      hcpRaw === undefined
        ? undefined
        : { condition: conditionOf(parse(hcpRaw, `HostedControlPlane ${hcpNs}/${name}`)) },
    statefulSet: sts ? { replicas: sts.spec?.replicas ?? 1, ready: sts.status?.readyReplicas ?? 0 } : undefined,
    pods,
  };
}

function conditionOf(obj: z.infer<typeof restoreSchema>): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === ETCD_SNAPSHOT_RESTORED);
}

function parse(raw: unknown, what: string): z.infer<typeof restoreSchema> {
  const r = restoreSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new OperationError(`${what} does not look as expected (${issue?.path.join(".")}: ${issue?.message})`);
  }
  return r.data;
}

/** A 404 is "not there yet" while a restore is under way; anything else is a failure. */
async function orMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof KubeNotFoundError) return undefined;
    throw err;
  }
}
