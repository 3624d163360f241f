/** One REST resource the simulator serves, as discovery describes it. */
export interface ResourceType {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural, as in the URL. */
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** Built-in kinds accept strategic merge patches; custom resources do not. */
  readonly builtin: boolean;
  /** Writes to the main resource keep `status`; `/status` writes keep everything else. */
  readonly statusSubresource: boolean;
  /** `/scale` maps to `spec.replicas` and `status.replicas`. */
  readonly scaleSubresource: boolean;
  readonly portForward?: boolean;
  /** `pods/log`: a container's output as plain text. */
  readonly podLog?: boolean;
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] as const;

export function verbsOf(_rt: ResourceType): readonly string[] {
  return VERBS;
}

function core(resource: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType {
  return {
    group: "",
    version: "v1",
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced: true,
    shortNames: [],
    builtin: true,
    statusSubresource: false,
    scaleSubresource: false,
    ...extra,
  };
}

export const HYPERSHIFT_GROUP = "hypershift.openshift.io";
const RBAC_GROUP = "rbac.authorization.k8s.io";

function builtinKind(group: string, resource: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType {
  return { ...core(resource, kind, extra), group, version: "v1" };
}

export const RESOURCES: readonly ResourceType[] = [
  core("namespaces", "Namespace", { namespaced: false, shortNames: ["ns"], statusSubresource: true }),
  core("pods", "Pod", { shortNames: ["po"], statusSubresource: true, portForward: true, podLog: true }),
  core("secrets", "Secret"),
  core("configmaps", "ConfigMap", { shortNames: ["cm"] }),
  core("services", "Service", { shortNames: ["svc"], statusSubresource: true }),
  core("serviceaccounts", "ServiceAccount", { shortNames: ["sa"] }),
  core("persistentvolumeclaims", "PersistentVolumeClaim", { shortNames: ["pvc"], statusSubresource: true }),
  {
    group: "apps",
    version: "v1",
    resource: "deployments",
    singular: "deployment",
    kind: "Deployment",
    namespaced: true,
    shortNames: ["deploy"],
    builtin: true,
    statusSubresource: true,
    scaleSubresource: true,
  },
  {
    group: "apps",
    version: "v1",
    resource: "statefulsets",
    singular: "statefulset",
    kind: "StatefulSet",
    namespaced: true,
    shortNames: ["sts"],
    builtin: true,
    statusSubresource: true,
    scaleSubresource: true,
  },
  {
    group: HYPERSHIFT_GROUP,
    version: "v1beta1",
    resource: "hostedclusters",
    singular: "hostedcluster",
    kind: "HostedCluster",
    namespaced: true,
    shortNames: ["hc", "hcs"],
    builtin: false,
    statusSubresource: true,
    scaleSubresource: false,
  },
  {
    group: HYPERSHIFT_GROUP,
    version: "v1beta1",
    resource: "hostedcontrolplanes",
    singular: "hostedcontrolplane",
    kind: "HostedControlPlane",
    namespaced: true,
    shortNames: ["hcp", "hcps"],
    builtin: false,
    statusSubresource: true,
    scaleSubresource: false,
  },
  {
    group: HYPERSHIFT_GROUP,
    version: "v1beta1",
    resource: "nodepools",
    singular: "nodepool",
    kind: "NodePool",
    namespaced: true,
    shortNames: ["np", "nps"],
    builtin: false,
    statusSubresource: true,
    scaleSubresource: true,
  },
  // What `schedule --apply` creates: stored and served like any built-in kind (no controller acts on them).
  builtinKind("batch", "cronjobs", "CronJob", { shortNames: ["cj"], statusSubresource: true }),
  builtinKind("networking.k8s.io", "networkpolicies", "NetworkPolicy", { shortNames: ["netpol"] }),
  // The lock a continuous backup holds (and renews) so that two never write the same chain.
  builtinKind("coordination.k8s.io", "leases", "Lease"),
  builtinKind(RBAC_GROUP, "roles", "Role"),
  builtinKind(RBAC_GROUP, "rolebindings", "RoleBinding"),
  builtinKind(RBAC_GROUP, "clusterroles", "ClusterRole", { namespaced: false }),
  builtinKind(RBAC_GROUP, "clusterrolebindings", "ClusterRoleBinding", { namespaced: false }),
];

export function apiVersionOf(rt: ResourceType): string {
  return rt.group === "" ? rt.version : `${rt.group}/${rt.version}`;
}

/** `deployments.apps`, `pods`: how kube-apiserver names a resource in messages. */
export function qualifiedResource(rt: ResourceType, subresource?: string): string {
  const r = subresource ? `${rt.resource}/${subresource}` : rt.resource;
  return rt.group === "" ? r : `${r}.${rt.group}`;
}

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function resourceByKind(kind: string): ResourceType {
  const rt = RESOURCES.find((r) => r.kind === kind);
  if (!rt) throw new Error(`kubesim serves no kind ${kind}`);
  return rt;
}
