import type { ManagementCluster } from "../hostedcluster/kube.js";
import type { KubeObject } from "./manifests.js";

export interface Applied {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly action: "created" | "replaced";
}

/**
 * Creates each object, or replaces the one already there (the schedule's own objects: a re-run
 * after adding a cluster or changing a flag updates them in place), in the given order.
 */
export async function applyObjects(cluster: ManagementCluster, objects: readonly KubeObject[]): Promise<Applied[]> {
  const done: Applied[] = [];
  for (const obj of objects) {
    const { name, namespace } = obj.metadata;
    const action = await cluster.createOrReplaceObject(obj);
    done.push({ kind: obj.kind, ...(namespace ? { namespace } : {}), name, action });
  }
  return done;
}
