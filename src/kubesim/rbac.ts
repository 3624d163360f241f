import { isObject, type JsonObject, meta } from "./json.js";
import type { ResourceRequest } from "./request-info.js";
import { resourceByKind } from "./resources.js";
import type { ObjectStore } from "./store.js";

/** Who a service-account token authenticates as, as kube-apiserver names it. */
export interface ServiceAccountIdentity {
  readonly namespace: string;
  readonly name: string;
}

export function serviceAccountUser(sa: ServiceAccountIdentity): string {
  return `system:serviceaccount:${sa.namespace}:${sa.name}`;
}

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/**
 * kube-apiserver's RBAC authorizer for a service account: allowed when a RoleBinding in the
 * request's namespace, or a ClusterRoleBinding, binds the account (or one of its groups) to a Role
 * or ClusterRole with a rule that covers the API group, resource (`deployments/scale` for a
 * subresource), verb and, when the rule names objects, the object's name. A rule with
 * resourceNames never covers a list or create (no name in the request), as in Kubernetes.
 */
export function authorize(store: ObjectStore, sa: ServiceAccountIdentity, req: ResourceRequest): boolean {
  const bindings = [
    ...(req.namespace !== undefined ? store.list(resourceByKind("RoleBinding"), req.namespace) : []),
    ...store.list(resourceByKind("ClusterRoleBinding")),
  ];
  for (const binding of bindings) {
    if (!bindsAccount(binding, sa)) continue;
    for (const rule of rulesOf(store, binding)) if (covers(rule, req)) return true;
  }
  return false;
}

function bindsAccount(binding: JsonObject, sa: ServiceAccountIdentity): boolean {
  const subjects = Array.isArray(binding.subjects) ? binding.subjects.filter(isObject) : [];
  const groups = ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`, "system:authenticated"];
  return subjects.some(
    (s) =>
      (s.kind === "ServiceAccount" && s.name === sa.name && s.namespace === sa.namespace) ||
      (s.kind === "User" && s.name === serviceAccountUser(sa)) ||
      (s.kind === "Group" && groups.includes(String(s.name))),
  );
}

function rulesOf(store: ObjectStore, binding: JsonObject): Rule[] {
  const ref = isObject(binding.roleRef) ? binding.roleRef : {};
  const role =
    ref.kind === "Role"
      ? store.get(resourceByKind("Role"), String(meta(binding).namespace), String(ref.name))
      : ref.kind === "ClusterRole"
        ? store.get(resourceByKind("ClusterRole"), undefined, String(ref.name))
        : undefined;
  return role && Array.isArray(role.rules) ? (role.rules.filter(isObject) as unknown as Rule[]) : [];
}

function covers(rule: Rule, req: ResourceRequest): boolean {
  const resource = req.subresource ? `${req.rt.resource}/${req.subresource}` : req.rt.resource;
  const has = (list: readonly string[] | undefined, v: string) => (list ?? []).some((x) => x === v || x === "*");
  if (!has(rule.apiGroups, req.rt.group) || !has(rule.resources, resource) || !has(rule.verbs, req.verb)) return false;
  if (!rule.resourceNames || rule.resourceNames.length === 0) return true;
  return req.name !== undefined && rule.resourceNames.includes(req.name);
}
