import type { ManagementCluster } from "../hostedcluster/kube.js";
import type { KubeObject } from "./manifests.js";

export interface Applied {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly action: "created" | "replaced" | "kept";
}

/**
 * Creates each object, or replaces the one already there (the schedule's own objects: a re-run
 * after adding a cluster or changing a flag updates them in place), in the given order. A Lease
 * already there is kept: it is the running continuous backup's state (its holder), not configuration.
 */
export async function applyObjects(cluster: ManagementCluster, objects: readonly KubeObject[]): Promise<Applied[]> {
  const done: Applied[] = [];
  for (const obj of objects) {
    const { name, namespace } = obj.metadata;
    const action =
      obj.kind === "Lease"
        ? (await cluster.createObject(obj)) === "created"
          ? "created"
          : "kept"
        : await cluster.createOrReplaceObject(obj);
    done.push({ kind: obj.kind, ...(namespace ? { namespace } : {}), name, action });
  }
  return done;
}
