import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authorize } from "../../src/kubesim/rbac.js";
import type { ResourceRequest } from "../../src/kubesim/request-info.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { ObjectStore } from "../../src/kubesim/store.js";

const now = new Date("2026-01-01T00:00:00Z");
const rbac = "rbac.authorization.k8s.io/v1";
const sa = { namespace: "backup", name: "runner" };
const subject = { kind: "ServiceAccount", name: "runner", namespace: "backup" };

function cluster(): ObjectStore {
  const store = new ObjectStore();
  store.create(
    resourceByKind("Role"),
    {
      apiVersion: rbac,
      kind: "Role",
      metadata: { name: "r", namespace: "hcp" },
      rules: [
        { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["etcd-client-tls"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
        { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get"] },
      ],
    },
    now,
  );
  store.create(
    resourceByKind("RoleBinding"),
    {
      apiVersion: rbac,
      kind: "RoleBinding",
      metadata: { name: "r", namespace: "hcp" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r" },
      subjects: [subject],
    },
    now,
  );
  store.create(
    resourceByKind("ClusterRole"),
    {
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: { name: "c" },
      rules: [{ apiGroups: ["hypershift.openshift.io"], resources: ["hostedclusters"], verbs: ["get", "list"] }],
    },
    now,
  );
  store.create(
    resourceByKind("ClusterRoleBinding"),
    {
      apiVersion: rbac,
      kind: "ClusterRoleBinding",
      metadata: { name: "c" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "c" },
      subjects: [subject],
    },
    now,
  );
  return store;
}

const req = (kind: string, verb: ResourceRequest["verb"], namespace?: string, name?: string, subresource?: string) =>
  ({
    rt: resourceByKind(kind),
    verb,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  }) as ResourceRequest;

describe("kubesim RBAC for service accounts", () => {
  const store = cluster();

  it("allows what a bound Role's rule covers, in its namespace only", () => {
    assert.ok(authorize(store, sa, req("Secret", "get", "hcp", "etcd-client-tls")));
    assert.ok(authorize(store, sa, req("Pod", "list", "hcp")));
    assert.ok(authorize(store, sa, req("Deployment", "get", "hcp", "kube-apiserver", "scale")));
    assert.ok(!authorize(store, sa, req("Secret", "get", "other", "etcd-client-tls")), "another namespace");
  });

  it("resourceNames narrow to those names and never cover a list; a subresource is not its resource", () => {
    assert.ok(!authorize(store, sa, req("Secret", "get", "hcp", "pull-secret")));
    assert.ok(!authorize(store, sa, req("Secret", "list", "hcp")));
    assert.ok(!authorize(store, sa, req("Deployment", "get", "hcp", "kube-apiserver")));
    assert.ok(!authorize(store, sa, req("Deployment", "patch", "hcp", "kube-apiserver", "scale")), "verb");
    assert.ok(!authorize(store, sa, req("Pod", "create", "hcp", "etcd-0", "portforward")));
  });

  it("a ClusterRoleBinding applies in every namespace and at cluster scope; another account gets nothing", () => {
    assert.ok(authorize(store, sa, req("HostedCluster", "list")));
    assert.ok(authorize(store, sa, req("HostedCluster", "get", "clusters", "example")));
    assert.ok(!authorize(store, sa, req("HostedCluster", "patch", "clusters", "example")));
    const other = { namespace: "backup", name: "someone-else" };
    assert.ok(!authorize(store, other, req("HostedCluster", "list")));
    assert.ok(!authorize(store, other, req("Pod", "list", "hcp")));
  });
});
