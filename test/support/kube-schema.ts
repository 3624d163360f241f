// Validates rendered objects against the Kubernetes OpenAPI schemas (kubernetes-models: the schemas
// compiled to validators, one class per kind). They check types, required fields and enums, not
// unknown fields: the simulator's apply covers object shape further.
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/ServiceAccount": ServiceAccount,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "batch/v1/CronJob": CronJob,
  "apps/v1/Deployment": Deployment,
  "coordination.k8s.io/v1/Lease": Lease,
};

/** Throws, naming the object and the schema's complaint, unless `obj` is valid for its apiVersion and kind. */
export function validateAgainstSchema(obj: { apiVersion: string; kind: string; metadata: { name: string } }): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind} ${obj.metadata.name} fails the schema: ${(err as Error).message}`);
  }
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

/** metav1.LabelSelector semantics: every matchLabels pair and every expression must hold; empty selects all. */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const exprs = (selector.matchExpressions ?? []).every((e) => {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key] as string);
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key] as string);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
    }
    return false;
  });
  return pairs && exprs;
}
