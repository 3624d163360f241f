import { ApiException, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { asClientModel, kubeError, type ManagementCluster } from "../hostedcluster/kube.js";
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
  const api = KubernetesObjectApi.makeApiClient(cluster.config);
  const done: Applied[] = [];
  for (const obj of objects) {
    const { name, namespace } = obj.metadata;
    const model = asClientModel<KubernetesObject>(obj);
    const req = (verb: "create" | "get" | "update") => ({
      verb,
      resource: obj.kind,
      namespace: namespace ?? "(cluster scope)",
      name,
    });
    const fail = (verb: "create" | "get" | "update") => (err: unknown) => {
      throw kubeError(err, req(verb), cluster.server);
    };
    const created = await api.create(model).then(
      () => true,
      (err: unknown) => {
        if (err instanceof ApiException && err.code === 409) return false;
        return fail("create")(err);
      },
    );
    if (!created && obj.kind === "Lease") {
      done.push({ kind: obj.kind, ...(namespace ? { namespace } : {}), name, action: "kept" });
      continue;
    }
    if (!created) {
      const current = await api
        .read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace } })
        .catch(fail("get"));
      const resourceVersion = current.metadata?.resourceVersion;
      await api.replace({ ...model, metadata: { ...model.metadata, resourceVersion } }).catch(fail("update"));
    }
    done.push({ kind: obj.kind, ...(namespace ? { namespace } : {}), name, action: created ? "created" : "replaced" });
  }
  return done;
}
