import type { KubernetesObject } from "@kubernetes/client-node";
import { CancelledError, OperationError } from "../../errors.js";
import type { ManagementCluster } from "../../hostedcluster/kube.js";
import { AESCBC_SECRET_KEY, hcpNamespace } from "../../hostedcluster/names.js";
import { withoutUrlSecrets } from "../../redact.js";
import { block, type Check, notRun, pass } from "./checks.js";
import type { RenderedHostedCluster } from "./rendered.js";

/**
 * The management cluster the restore goes to: what must not be there yet (HyperShift would skip the
 * restore silently), and the creation of the patched objects.
 */
export class TargetCluster {
  constructor(private readonly cluster: ManagementCluster) {}

  get server(): string {
    return this.cluster.server;
  }

  /** The object, or undefined when the API says 404. */
  private find(apiVersion: string, kind: string, name: string, namespace?: string) {
    return this.cluster.findObject({ apiVersion, kind, name, ...(namespace ? { namespace } : {}) });
  }

  /**
   * Nothing of the target may exist: an HCP namespace or a `data-etcd-*` PVC left from an earlier
   * cluster of the same name means etcd-init finds data and skips the restore without an error.
   */
  async checks(
    hc: RenderedHostedCluster,
    key: Uint8Array | undefined,
    backupKey?: { readonly key: Uint8Array; readonly secretName: string },
  ): Promise<Check[]> {
    const out: Check[] = [];
    const hcpNs = hcpNamespace(hc.namespace, hc.name);
    const existing = await this.find("hypershift.openshift.io/v1beta1", "HostedCluster", hc.name, hc.namespace);
    out.push(
      existing
        ? block(
            "hostedcluster-absent",
            `HostedCluster ${hc.namespace}/${hc.name} already exists: a restore creates it; delete it (hcp destroy) or render another name`,
          )
        : pass("hostedcluster-absent", `no HostedCluster ${hc.namespace}/${hc.name} yet`),
    );
    const ns = await this.find("v1", "Namespace", hcpNs);
    let pvcs: string[] = [];
    if (ns) {
      const list = await this.cluster.listPersistentVolumeClaims(hcpNs);
      pvcs = list.items.map((p) => p.metadata?.name ?? "").filter((n) => n.startsWith("data-etcd-"));
    }
    out.push(
      ns
        ? block(
            "hcp-namespace-absent",
            `the hosted control plane namespace ${hcpNs} already exists (left by an earlier cluster of this name?): delete it first, or HyperShift reuses what is in it`,
          )
        : pass("hcp-namespace-absent", `no namespace ${hcpNs} yet`),
    );
    out.push(
      pvcs.length > 0
        ? block(
            "etcd-pvcs-absent",
            `${hcpNs} still has ${pvcs.join(", ")}: etcd-init restores only into an empty data directory and would silently skip the restore (kubectl delete pvc -n ${hcpNs} ${pvcs.join(" ")})`,
          )
        : ns
          ? pass("etcd-pvcs-absent", `no data-etcd-* PVC in ${hcpNs}`)
          : pass("etcd-pvcs-absent", `no namespace ${hcpNs}, so no data-etcd-* PVC`),
    );
    if (hc.encryption.type === "aescbc") {
      out.push(await this.keySecretCheck(hc.namespace, hc.encryption.activeKeySecret, key, "key-secret"));
      if (backupKey)
        out.push(await this.keySecretCheck(hc.namespace, backupKey.secretName, backupKey.key, "backup-key-secret"));
    }
    return out;
  }

  /** A key Secret the restore creates must not exist already with another key: HyperShift would use that one. */
  private async keySecretCheck(
    namespace: string,
    name: string,
    key: Uint8Array | undefined,
    id: string,
  ): Promise<Check> {
    const secret = (await this.find("v1", "Secret", name, namespace)) as
      | (KubernetesObject & { data?: Record<string, string> })
      | undefined;
    const value = secret?.data?.[AESCBC_SECRET_KEY];
    if (!secret) return pass(id, `no Secret ${namespace}/${name} yet: it will be created with the saved key`);
    if (key && value !== undefined && Buffer.from(value, "base64").equals(Buffer.from(key)))
      return pass(id, `Secret ${namespace}/${name} already holds the saved key`);
    return block(
      id,
      `Secret ${namespace}/${name} already exists with another key: the HostedCluster would use it, not the saved one; delete it first`,
    );
  }

  /**
   * Creates the objects: Namespaces, then Secrets and ConfigMaps (the HostedCluster names them, and
   * its kube-apiserver must never start with a generated key), then the HostedCluster, then the rest
   * in document order. A Namespace that exists is kept; any other object that exists is an error.
   */
  async apply(objects: readonly KubernetesObject[], signal?: AbortSignal): Promise<AppliedObject[]> {
    const rank = (o: KubernetesObject) =>
      o.kind === "Namespace"
        ? 0
        : o.kind === "Secret" || o.kind === "ConfigMap"
          ? 1
          : o.kind === "HostedCluster"
            ? 2
            : 3;
    const ordered = objects.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i);
    const done: AppliedObject[] = [];
    for (const { o } of ordered) {
      if (signal?.aborted) throw new OperationError(`apply cancelled after ${done.length} object(s)`);
      const name = `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;
      const createdSoFar = () => `(created so far: ${done.map((d) => d.object).join(", ") || "nothing"})`;
      let result: "created" | "exists";
      try {
        result = await this.cluster.createObject(o, signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        // The API server's message may quote the field it refused, the presigned URL included.
        throw new OperationError(`${withoutUrlSecrets((err as Error).message)} ${createdSoFar()}`, { cause: err });
      }
      if (result === "exists" && o.kind !== "Namespace")
        throw new OperationError(`${name} already exists: delete it or render another name ${createdSoFar()}`);
      done.push({ object: name, result });
    }
    return done;
  }
}

export interface AppliedObject {
  readonly object: string;
  readonly result: "created" | "exists";
}

export function clusterChecksNotRun(): Check {
  return notRun(
    "cluster",
    "no --kubeconfig or --context: the target namespace, etcd PVCs and key Secret were not checked",
  );
}
