// The one Kubernetes seam for objects of any kind (`ManagementCluster.findObject`, `createObject`,
// `replaceObject`, `createOrReplaceObject`), which `schedule --apply` and `restore prepare --apply`
// both use, against the simulator's API server: not-found is a 404 and nothing else, a denial or an
// unserved kind is never taken for "absent", and every failure names the verb, resource, namespace, name.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubernetesObject } from "@kubernetes/client-node";
import { OperationError } from "../../src/errors.js";
import {
  KubeConflictError,
  KubeNotFoundError,
  loadKubeConfig,
  ManagementCluster,
} from "../../src/hostedcluster/kube.js";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { KubeApiServer } from "../../src/kubesim/server.js";

const NS = "seam";
const configMap = (name: string, data: Record<string, string>, namespace = NS) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data,
});

describe("ManagementCluster object operations against the simulator", () => {
  let server: KubeApiServer;
  let cluster: ManagementCluster;

  before(async () => {
    server = await KubeApiServer.start();
    cluster = new ManagementCluster(loadKubeConfig({ kubeconfig: await server.kubeconfig() }));
    server.store.create(
      resourceByKind("Namespace"),
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      new Date(),
    );
  });
  after(async () => {
    await server?.stop();
  });

  it("findObject: an absent object is undefined (404), a present one comes back as stored", async () => {
    const ref = { apiVersion: "v1", kind: "ConfigMap", name: "find-me", namespace: NS };
    assert.equal(await cluster.findObject(ref), undefined);
    assert.equal(await cluster.createObject(configMap("find-me", { a: "1" })), "created");
    const found = (await cluster.findObject(ref)) as KubernetesObject & { data?: Record<string, string> };
    assert.deepEqual(found?.data, { a: "1" });
    assert.equal(found?.metadata?.namespace, NS);
  });

  it("findObject: a 403 is an error naming verb, resource, name and namespace, never 'absent'", async () => {
    server.faults.forbid({ verb: "get", resource: "configmaps", namespace: NS, name: "secret-ish" });
    const err = await cluster
      .findObject({ apiVersion: "v1", kind: "ConfigMap", name: "secret-ish", namespace: NS })
      .then(
        () => assert.fail("a denied read must not resolve"),
        (e: unknown) => e,
      );
    assert.ok(err instanceof OperationError, String(err));
    assert.ok(!(err instanceof KubeNotFoundError), "a denial is not a 404");
    assert.match(err.message, /^not allowed to get configmaps "secret-ish" in namespace seam: .*forbidden/);
    assert.equal(server.faults.pending, 0, "the fault was used by this request");
  });

  it("findObject: a kind the API server does not serve (CRD not installed) is an error, not 'absent'", async () => {
    await assert.rejects(
      cluster.findObject({ apiVersion: "example.com/v1", kind: "Widget", name: "w", namespace: NS }),
      (e: unknown) =>
        e instanceof OperationError &&
        !(e instanceof KubeNotFoundError) &&
        /does not serve Widget \(example\.com\/v1\), needed to get "w": is its CRD installed/.test(e.message) &&
        e.message.includes(server.url),
    );
  });

  it("createObject: 'exists' on the second create (409 by status), the stored object untouched", async () => {
    assert.equal(await cluster.createObject(configMap("twice", { v: "first" })), "created");
    assert.equal(await cluster.createObject(configMap("twice", { v: "second" })), "exists");
    const stored = server.store.get(resourceByKind("ConfigMap"), NS, "twice") as { data?: Record<string, string> };
    assert.deepEqual(stored.data, { v: "first" });
  });

  it("createObject: a missing namespace is a 404 that says the namespace is missing", async () => {
    await assert.rejects(
      cluster.createObject(configMap("orphan", {}, "no-such-ns")),
      (e: unknown) =>
        e instanceof KubeNotFoundError &&
        /^cannot create configmaps "orphan" in namespace no-such-ns: namespaces "no-such-ns" not found$/.test(
          e.message,
        ),
    );
  });

  it("createObject: a denial names the resource as discovery spells it (networkpolicies)", async () => {
    server.faults.forbid({ verb: "create", resource: "networkpolicies", namespace: NS });
    const policy = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "deny", namespace: NS },
      spec: { podSelector: {}, policyTypes: ["Ingress"] },
    };
    await assert.rejects(
      cluster.createObject(policy),
      (e: unknown) =>
        e instanceof OperationError &&
        /^not allowed to create networkpolicies "deny" in namespace seam: /.test(e.message),
    );
    assert.equal(await cluster.createObject(policy), "created", "the fault was one answer; the next create succeeds");
  });

  it("createOrReplaceObject: creates, then replaces in place (same uid, new data, new resourceVersion)", async () => {
    assert.equal(await cluster.createOrReplaceObject(configMap("applied", { v: "1" })), "created");
    const rt = resourceByKind("ConfigMap");
    const first = server.store.get(rt, NS, "applied") as { metadata: { uid: string; resourceVersion: string } };
    assert.equal(await cluster.createOrReplaceObject(configMap("applied", { v: "2" })), "replaced");
    const second = server.store.get(rt, NS, "applied") as {
      metadata: { uid: string; resourceVersion: string };
      data: Record<string, string>;
    };
    assert.deepEqual(second.data, { v: "2" });
    assert.equal(second.metadata.uid, first.metadata.uid);
    assert.notEqual(second.metadata.resourceVersion, first.metadata.resourceVersion);
  });

  it("replaceObject: a stale resourceVersion is a 409 conflict, and the object keeps its newer data", async () => {
    await cluster.createObject(configMap("raced", { v: "1" }));
    const read = await cluster.findObject({ apiVersion: "v1", kind: "ConfigMap", name: "raced", namespace: NS });
    const stale = read?.metadata?.resourceVersion;
    await cluster.replaceObject(configMap("raced", { v: "other writer" }), stale);
    await assert.rejects(
      cluster.replaceObject(configMap("raced", { v: "ours" }), stale),
      (e: unknown) =>
        e instanceof KubeConflictError && /^conflict on update configmaps "raced" in namespace seam/.test(e.message),
    );
    const stored = server.store.get(resourceByKind("ConfigMap"), NS, "raced") as { data?: Record<string, string> };
    assert.deepEqual(stored.data, { v: "other writer" });
  });
});
