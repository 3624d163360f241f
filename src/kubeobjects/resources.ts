import { UsageError } from "../errors.js";

/**
 * What kubectl calls a resource, and where kube-apiserver keeps its objects in etcd. Built-in
 * kinds live under `<prefix>/<path>/` without their group (a few under historical names); custom
 * resources under `<prefix>/<group>/<resource>/`; OpenShift's own API server uses `/openshift.io`.
 */
export interface ResourceType {
  readonly resource: string;
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** The key path after the etcd prefix, without slashes at either end. */
  readonly path: string;
  /** When set, the etcd prefix this kind lives under instead of kube-apiserver's. */
  readonly etcdPrefix?: string;
}

const builtIn = (
  resource: string,
  group: string,
  version: string,
  kind: string,
  namespaced: boolean,
  path = resource,
): ResourceType => ({ resource, group, version, kind, namespaced, path });

const BUILT_IN: readonly ResourceType[] = [
  builtIn("secrets", "", "v1", "Secret", true),
  builtIn("configmaps", "", "v1", "ConfigMap", true),
  builtIn("serviceaccounts", "", "v1", "ServiceAccount", true),
  builtIn("pods", "", "v1", "Pod", true),
  builtIn("services", "", "v1", "Service", true, "services/specs"),
  builtIn("endpoints", "", "v1", "Endpoints", true, "services/endpoints"),
  builtIn("persistentvolumeclaims", "", "v1", "PersistentVolumeClaim", true),
  builtIn("persistentvolumes", "", "v1", "PersistentVolume", false),
  builtIn("namespaces", "", "v1", "Namespace", false),
  builtIn("nodes", "", "v1", "Node", false, "minions"),
  builtIn("deployments", "apps", "v1", "Deployment", true),
  builtIn("statefulsets", "apps", "v1", "StatefulSet", true),
  builtIn("daemonsets", "apps", "v1", "DaemonSet", true),
  builtIn("replicasets", "apps", "v1", "ReplicaSet", true),
  builtIn("jobs", "batch", "v1", "Job", true),
  builtIn("cronjobs", "batch", "v1", "CronJob", true),
  builtIn("roles", "rbac.authorization.k8s.io", "v1", "Role", true),
  builtIn("rolebindings", "rbac.authorization.k8s.io", "v1", "RoleBinding", true),
  builtIn("clusterroles", "rbac.authorization.k8s.io", "v1", "ClusterRole", false),
  builtIn("clusterrolebindings", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", false),
  { ...builtIn("routes", "route.openshift.io", "v1", "Route", true), etcdPrefix: "/openshift.io" },
];

const SHORT_NAMES: Readonly<Record<string, string>> = {
  secret: "secrets",
  cm: "configmaps",
  configmap: "configmaps",
  sa: "serviceaccounts",
  pod: "pods",
  po: "pods",
  svc: "services",
  service: "services",
  ep: "endpoints",
  pvc: "persistentvolumeclaims",
  pv: "persistentvolumes",
  ns: "namespaces",
  namespace: "namespaces",
  no: "nodes",
  node: "nodes",
  deploy: "deployments",
  deployment: "deployments",
  sts: "statefulsets",
  ds: "daemonsets",
  rs: "replicasets",
  job: "jobs",
  cj: "cronjobs",
  route: "routes",
};

/**
 * `secrets`, `deployments.apps`, `prometheusrules.monitoring.coreos.com`: a built-in kind when the
 * name (and group, if given) is one of ours, else a custom resource of that group, stored as JSON.
 */
export function resolveResource(arg: string): ResourceType {
  const text = arg.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(text))
    throw new UsageError(
      `resource "${arg}": expected a name like secrets, deployments.apps or routes.route.openshift.io`,
    );
  const dot = text.indexOf(".");
  const name = dot === -1 ? text : text.slice(0, dot);
  const group = dot === -1 ? undefined : text.slice(dot + 1);
  const plural = SHORT_NAMES[name] ?? name;
  const known = BUILT_IN.find((r) => r.resource === plural && (group === undefined || r.group === group));
  if (known) return known;
  if (group === undefined || group === "")
    throw new UsageError(
      `resource "${arg}" is not a built-in kind this tool knows (${BUILT_IN.map((r) => r.resource).join(", ")}): name a custom resource with its group, as in prometheusrules.monitoring.coreos.com`,
    );
  // A custom resource: its kind and version are in the stored JSON, namespaced or not we learn from the keys.
  return { resource: plural, group, version: "", kind: "", namespaced: true, path: `${group}/${plural}` };
}

/** The etcd key prefix holding this resource's objects, narrowed to a namespace (and name) when given. */
export function etcdKeyPrefix(
  r: ResourceType,
  etcdPrefix: string,
  scope: { readonly namespace?: string; readonly name?: string },
): string {
  const base = `${(r.etcdPrefix ?? etcdPrefix).replace(/\/+$/, "")}/${r.path}/`;
  if (scope.namespace === undefined) return scope.name === undefined ? base : `${base}${scope.name}`;
  const ns = `${base}${scope.namespace}/`;
  return scope.name === undefined ? ns : `${ns}${scope.name}`;
}

/** Namespace and name of an object from its key under `base` (cluster-scoped keys have no namespace). */
export function objectOfKey(key: string, base: string): { namespace?: string; name: string } | undefined {
  if (!key.startsWith(base)) return undefined;
  const parts = key.slice(base.length).split("/");
  if (parts.length === 1 && parts[0]) return { name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  return undefined;
}

export const protoApiVersion = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);
