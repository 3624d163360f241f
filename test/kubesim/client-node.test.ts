import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";

const HC = {
  group: "hypershift.openshift.io",
  version: "v1beta1",
  namespace: "clusters",
  plural: "hostedclusters",
  name: "example",
};
const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("kubesim driven by @kubernetes/client-node 1.4", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let kc: KubeConfig;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    sim = await KubeSim.start(etcd, { controllers: { reconcileMs: 60_000 } });
    kc = new KubeConfig();
    kc.loadFromFile(await sim.kubeconfig());
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
  });

  it("gets and merge-patches a HostedCluster with CustomObjectsApi", async () => {
    const api = kc.makeApiClient(CustomObjectsApi);
    const hc = (await api.getNamespacedCustomObject(HC)) as {
      spec: { secretEncryption: { aescbc: { activeKey: { name: string } } } };
    };
    assert.equal(hc.spec.secretEncryption.aescbc.activeKey.name, "example-etcd-encryption-key");
    try {
      const patched = (await api.patchNamespacedCustomObject(
        { ...HC, body: { spec: { pausedUntil: "2099-01-01T00:00:00Z" } } },
        MERGE,
      )) as {
        spec: { pausedUntil?: string };
      };
      assert.equal(patched.spec.pausedUntil, "2099-01-01T00:00:00Z");
      await assert.rejects(
        api.patchNamespacedCustomObject({ ...HC, body: { spec: { pausedUntil: "null" } } }, MERGE),
        (err: unknown) => {
          assert.ok(err instanceof ApiException);
          assert.equal(err.code, 422);
          const status = JSON.parse(String(err.body)) as { reason: string; message: string };
          assert.equal(status.reason, "Invalid");
          assert.match(status.message, /spec\.pausedUntil: Invalid value: "string": PausedUntil must be a date/);
          return true;
        },
      );
    } finally {
      const cleared = (await api.patchNamespacedCustomObject(
        { ...HC, body: { spec: { pausedUntil: null } } },
        MERGE,
      )) as {
        spec: { pausedUntil?: string };
      };
      assert.equal(cleared.spec.pausedUntil, undefined);
    }
  });

  it("reads and patches a Deployment's scale with AppsV1Api", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const ns = sim.hostedCluster.controlPlaneNamespace;
    const scale = await apps.readNamespacedDeploymentScale({ name: "openshift-oauth-apiserver", namespace: ns });
    assert.equal(scale.spec?.replicas, 3);
    assert.equal(scale.status?.selector, "app=openshift-oauth-apiserver");
    try {
      const patched = await apps.patchNamespacedDeploymentScale(
        { name: "openshift-oauth-apiserver", namespace: ns, body: { spec: { replicas: 1 } } },
        MERGE,
      );
      assert.equal(patched.spec?.replicas, 1);
      const d = await apps.readNamespacedDeployment({ name: "openshift-oauth-apiserver", namespace: ns });
      assert.equal(d.spec?.replicas, 1);
    } finally {
      await apps.patchNamespacedDeploymentScale(
        { name: "openshift-oauth-apiserver", namespace: ns, body: { spec: { replicas: 3 } } },
        MERGE,
      );
    }
    // client-node's default patch type is JSON Patch.
    const jp = await apps.patchNamespacedDeploymentScale({
      name: "openshift-oauth-apiserver",
      namespace: ns,
      body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
    });
    assert.equal(jp.spec?.replicas, 3);
  });

  it("reads Secrets with CoreV1Api and reports errors as ApiException with code and Status body", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const tls = await core.readNamespacedSecret({
      name: "etcd-client-tls",
      namespace: sim.hostedCluster.controlPlaneNamespace,
    });
    const cert = Buffer.from(tls.data?.["etcd-client.crt"] ?? "", "base64").toString();
    assert.match(cert, /-----BEGIN CERTIFICATE-----/);
    const key = await core.readNamespacedSecret({ name: "example-etcd-encryption-key", namespace: "clusters" });
    assert.deepEqual(Buffer.from(key.data?.key ?? "", "base64"), sim.hostedCluster.encryptionKey);
    await assert.rejects(core.readNamespacedSecret({ name: "nope", namespace: "clusters" }), (err: unknown) => {
      assert.ok(err instanceof ApiException);
      assert.equal(err.code, 404);
      assert.equal((JSON.parse(String(err.body)) as { message: string }).message, 'secrets "nope" not found');
      return true;
    });
    sim.faults.forbid({ verb: "get", resource: "secrets", namespace: "clusters", user: "backup-sa" });
    await assert.rejects(
      core.readNamespacedSecret({ name: "example-etcd-encryption-key", namespace: "clusters" }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException);
        assert.equal(err.code, 403);
        assert.match(
          String(err.body),
          /secrets \\"example-etcd-encryption-key\\" is forbidden: User \\"backup-sa\\" cannot get resource \\"secrets\\" in API group \\"\\" in the namespace \\"clusters\\"/,
        );
        return true;
      },
    );
  });
});
