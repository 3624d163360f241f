import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { kubeRequest } from "../support/kube-http.js";

const HC = "/apis/hypershift.openshift.io/v1beta1/namespaces/clusters/hostedclusters/example";
const KAS = "/apis/apps/v1/namespaces/clusters-example/deployments/kube-apiserver";
const MERGE = "application/merge-patch+json";

describe("kubesim API server (HTTPS, token, discovery, CRUD, patch, validation)", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    // Controllers slowed down: these tests pin the API, not HyperShift's behaviours.
    sim = await KubeSim.start(etcd, {
      controllers: { pausePropagationMs: 60_000, reconcileMs: 60_000, podTerminationMs: 60_000, podReadyMs: 60_000 },
    });
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
  });

  it("answers 401 Status without a token and with a wrong one; /version is public", async () => {
    for (const token of [null, "wrong"]) {
      const r = await kubeRequest(sim.api, "GET", "/api/v1/namespaces", { token });
      assert.equal(r.status, 401);
      assert.deepEqual(
        { kind: r.body.kind, status: r.body.status, reason: r.body.reason, code: r.body.code },
        { kind: "Status", status: "Failure", reason: "Unauthorized", code: 401 },
      );
    }
    assert.equal((await kubeRequest(sim.api, "GET", "/version", { token: "wrong" })).status, 401);
    const v = await kubeRequest(sim.api, "GET", "/version", { token: null });
    assert.equal(v.status, 200);
    assert.equal(v.body.major, "1");
  });

  it("serves only TLS from its own CA", async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        request(`${sim.url}/version`, { ca: [] }, resolve).on("error", reject).end();
      }),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it("discovers resources, verbs, kinds and subresources", async () => {
    const core = await kubeRequest(sim.api, "GET", "/api/v1");
    const names = core.body.resources.map((r: { name: string }) => r.name);
    for (const n of [
      "namespaces",
      "pods",
      "pods/portforward",
      "secrets",
      "configmaps",
      "services",
      "serviceaccounts",
      "persistentvolumeclaims",
    ]) {
      assert.ok(names.includes(n), n);
    }
    const pods = core.body.resources.find((r: { name: string }) => r.name === "pods");
    assert.equal(pods.kind, "Pod");
    assert.equal(pods.namespaced, true);
    assert.ok(pods.verbs.includes("watch"));
    const groups = await kubeRequest(sim.api, "GET", "/apis");
    assert.deepEqual(groups.body.groups.map((g: { name: string }) => g.name).sort(), [
      "apps",
      "autoscaling",
      "batch",
      // Leases, which the continuous follower holds (schedule --continuous).
      "coordination.k8s.io",
      "hypershift.openshift.io",
      "networking.k8s.io",
      "rbac.authorization.k8s.io",
    ]);
    const apps = await kubeRequest(sim.api, "GET", "/apis/apps/v1");
    const scale = apps.body.resources.find((r: { name: string }) => r.name === "deployments/scale");
    assert.deepEqual([scale.group, scale.version, scale.kind], ["autoscaling", "v1", "Scale"]);
    assert.ok(apps.body.resources.some((r: { name: string }) => r.name === "statefulsets/scale"));
    const hs = await kubeRequest(sim.api, "GET", "/apis/hypershift.openshift.io/v1beta1");
    const hsNames = hs.body.resources.map((r: { name: string }) => r.name);
    assert.deepEqual(hsNames, [
      "hostedclusters",
      "hostedclusters/status",
      "hostedcontrolplanes",
      "hostedcontrolplanes/status",
      "nodepools",
      "nodepools/status",
      "nodepools/scale",
    ]);
    const coordination = await kubeRequest(sim.api, "GET", "/apis/coordination.k8s.io/v1");
    const lease = coordination.body.resources.find((r: { name: string }) => r.name === "leases");
    assert.deepEqual([lease?.kind, lease?.namespaced], ["Lease", true]);
    assert.equal((await kubeRequest(sim.api, "GET", "/apis/nope/v1")).status, 404);
  });

  it("serves full objects and lists with label and field selectors", async () => {
    const hc = await kubeRequest(sim.api, "GET", HC);
    assert.equal(hc.status, 200);
    assert.match(hc.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(hc.body.metadata.resourceVersion, /^\d+$/);
    assert.match(hc.body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(hc.body.metadata.generation, 1);
    const byLabel = await kubeRequest(
      sim.api,
      "GET",
      "/api/v1/namespaces/clusters-example/pods?labelSelector=app%3Dkube-apiserver",
    );
    assert.equal(byLabel.body.kind, "PodList");
    assert.equal(byLabel.body.items.length, 3);
    const setBased = await kubeRequest(
      sim.api,
      "GET",
      `/api/v1/namespaces/clusters-example/pods?labelSelector=${encodeURIComponent("app in (etcd,openshift-apiserver),app!=etcd")}`,
    );
    assert.deepEqual(
      new Set(setBased.body.items.map((p: { metadata: { labels: { app: string } } }) => p.metadata.labels.app)),
      new Set(["openshift-apiserver"]),
    );
    const byName = await kubeRequest(
      sim.api,
      "GET",
      "/api/v1/namespaces/clusters-example/pods?fieldSelector=metadata.name%3Detcd-0",
    );
    assert.deepEqual(
      byName.body.items.map((p: { metadata: { name: string } }) => p.metadata.name),
      ["etcd-0"],
    );
    const all = await kubeRequest(sim.api, "GET", "/api/v1/pods");
    assert.equal(all.body.items.length, 1 + 9);
  });

  it("creates, conflicts on a stale resourceVersion, updates, deletes", async () => {
    const path = "/api/v1/namespaces/clusters/configmaps";
    const created = await kubeRequest(sim.api, "POST", path, {
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm1" }, data: { a: "1" } },
    });
    assert.equal(created.status, 201);
    const again = await kubeRequest(sim.api, "POST", path, { body: { metadata: { name: "cm1" } } });
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, "AlreadyExists");
    assert.equal(again.body.message, 'configmaps "cm1" already exists');
    const rv1 = created.body.metadata.resourceVersion;
    const put1 = await kubeRequest(sim.api, "PUT", `${path}/cm1`, { body: { ...created.body, data: { a: "2" } } });
    assert.equal(put1.status, 200);
    assert.ok(Number(put1.body.metadata.resourceVersion) > Number(rv1));
    const stale = await kubeRequest(sim.api, "PUT", `${path}/cm1`, { body: { ...created.body, data: { a: "3" } } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");
    assert.match(stale.body.message, /the object has been modified/);
    const del = await kubeRequest(sim.api, "DELETE", `${path}/cm1`);
    assert.equal(del.status, 200);
    const gone = await kubeRequest(sim.api, "GET", `${path}/cm1`);
    assert.equal(gone.status, 404);
    assert.deepEqual(
      [gone.body.reason, gone.body.message, gone.body.details.name, gone.body.code],
      ["NotFound", 'configmaps "cm1" not found', "cm1", 404],
    );
    const noNs = await kubeRequest(sim.api, "POST", "/api/v1/namespaces/nope/configmaps", {
      body: { metadata: { name: "x" } },
    });
    assert.equal(noNs.status, 404);
    assert.equal(noNs.body.message, 'namespaces "nope" not found');
  });

  it("patches with merge, JSON and strategic merge patches; 415 for the rest", async () => {
    const svc = "/api/v1/namespaces/clusters-example/services/etcd-client";
    const merge = await kubeRequest(sim.api, "PATCH", svc, {
      body: { metadata: { labels: { x: "1" } } },
      contentType: MERGE,
    });
    assert.equal(merge.body.metadata.labels.x, "1");
    const jp = await kubeRequest(sim.api, "PATCH", svc, {
      body: [{ op: "replace", path: "/metadata/labels/x", value: "2" }],
      contentType: "application/json-patch+json",
    });
    assert.equal(jp.body.metadata.labels.x, "2");
    const smp = await kubeRequest(sim.api, "PATCH", svc, {
      body: { spec: { ports: [{ name: "metrics", port: 9090 }] } },
      contentType: "application/strategic-merge-patch+json",
    });
    assert.equal(smp.status, 200);
    assert.equal(smp.body.spec.ports.length, 2, "strategic merge adds to a list merged by key");
    const crSmp = await kubeRequest(sim.api, "PATCH", HC, {
      body: { metadata: { labels: { a: "b" } } },
      contentType: "application/strategic-merge-patch+json",
    });
    assert.equal(crSmp.status, 415);
    assert.equal(crSmp.body.reason, "UnsupportedMediaType");
    const other = await kubeRequest(sim.api, "PATCH", svc, { body: "x: 1", contentType: "application/yaml" });
    assert.equal(other.status, 415);
    const postYaml = await kubeRequest(sim.api, "POST", "/api/v1/namespaces/clusters/configmaps", {
      body: "a: b",
      contentType: "text/plain",
    });
    assert.equal(postYaml.status, 415);
  });

  it("reads and writes the scale subresource", async () => {
    const scale = await kubeRequest(sim.api, "GET", `${KAS}/scale`);
    assert.deepEqual(
      [scale.body.apiVersion, scale.body.kind, scale.body.spec.replicas],
      ["autoscaling/v1", "Scale", 3],
    );
    assert.equal(scale.body.status.selector, "app=kube-apiserver");
    const patched = await kubeRequest(sim.api, "PATCH", `${KAS}/scale`, {
      body: { spec: { replicas: 2 } },
      contentType: MERGE,
    });
    assert.equal(patched.body.spec.replicas, 2);
    const d = await kubeRequest(sim.api, "GET", KAS);
    assert.equal(d.body.spec.replicas, 2);
    assert.equal(d.body.metadata.generation, 2);
    // The deployment controller writes status meanwhile: read the current resourceVersion to PUT with.
    const current = await kubeRequest(sim.api, "GET", `${KAS}/scale`);
    const put = await kubeRequest(sim.api, "PUT", `${KAS}/scale`, { body: { ...current.body, spec: { replicas: 3 } } });
    assert.equal(put.status, 200);
    assert.equal(put.body.spec.replicas, 3);
    const stale = await kubeRequest(sim.api, "PUT", `${KAS}/scale`, {
      body: { ...current.body, spec: { replicas: 1 } },
    });
    assert.equal(stale.status, 409);
    const sts = await kubeRequest(sim.api, "GET", "/apis/apps/v1/namespaces/clusters-example/statefulsets/etcd/scale");
    assert.equal(sts.body.spec.replicas, 1);
  });

  it("validates HostedCluster writes against the CRD schema and the pausedUntil CEL rule", async () => {
    for (const bad of ["", "null", "tomorrow"]) {
      const r = await kubeRequest(sim.api, "PATCH", HC, { body: { spec: { pausedUntil: bad } }, contentType: MERGE });
      assert.equal(r.status, 422, bad);
      assert.equal(r.body.reason, "Invalid");
      assert.match(r.body.message, /^HostedCluster\.hypershift\.openshift\.io "example" is invalid: /);
      assert.match(
        r.body.message,
        /PausedUntil must be a date in RFC3339 format or 'True', 'true', 'False' or 'false'/,
      );
      assert.ok(r.body.details.causes.every((c: { field: string }) => c.field === "spec.pausedUntil"));
    }
    const short = await kubeRequest(sim.api, "PATCH", HC, { body: { spec: { pausedUntil: "" } }, contentType: MERGE });
    assert.match(short.body.message, /spec\.pausedUntil in body should be at least 4 chars long/);
    for (const good of ["true", "False", "2099-01-01T00:00:00Z", "2026-01-01T00:00:00"]) {
      const r = await kubeRequest(sim.api, "PATCH", HC, { body: { spec: { pausedUntil: good } }, contentType: MERGE });
      assert.equal(r.status, 200, good);
      assert.equal(r.body.spec.pausedUntil, good);
    }
    const removed = await kubeRequest(sim.api, "PATCH", HC, {
      body: { spec: { pausedUntil: null } },
      contentType: MERGE,
    });
    assert.equal(removed.status, 200);
    assert.equal("pausedUntil" in removed.body.spec, false);
    const wrongType = await kubeRequest(sim.api, "PATCH", HC, {
      body: { spec: { pausedUntil: 5 } },
      contentType: MERGE,
    });
    assert.equal(wrongType.status, 422);
    assert.match(wrongType.body.message, /spec\.pausedUntil in body must be of type string: "integer"/);
    const enumBad = await kubeRequest(sim.api, "PATCH", HC, {
      body: { spec: { secretEncryption: { type: "rot13" } } },
      contentType: MERGE,
    });
    assert.equal(enumBad.status, 422);
    assert.match(enumBad.body.message, /spec\.secretEncryption\.type: Unsupported value: "rot13"/);
    const immutable = await kubeRequest(sim.api, "PATCH", HC, {
      body: { spec: { etcd: { managed: { storage: { persistentVolume: { size: "16Gi" } } } } } },
      contentType: MERGE,
    });
    assert.equal(immutable.status, 422);
    assert.match(immutable.body.message, /Etcd PV storage size is immutable/);
    const noEncryption = await kubeRequest(sim.api, "PATCH", HC, {
      body: { spec: { secretEncryption: null } },
      contentType: MERGE,
    });
    assert.match(
      noEncryption.body.message,
      /spec: Invalid value: "object": secretEncryption cannot be removed once configured/,
    );
    const strict = await kubeRequest(sim.api, "PATCH", `${HC}?fieldValidation=Strict`, {
      body: { spec: { bogus: 1 } },
      contentType: MERGE,
    });
    assert.equal(strict.status, 422);
    assert.match(strict.body.message, /unknown field "spec\.bogus"/);
    const pruned = await kubeRequest(sim.api, "PATCH", HC, { body: { spec: { bogus: 1 } }, contentType: MERGE });
    assert.equal(pruned.status, 200);
    assert.equal("bogus" in pruned.body.spec, false);
    assert.match(String(pruned.headers.warning), /unknown field \\"spec\.bogus\\"/);
  });

  it("validates annotations like ObjectMeta does", async () => {
    const badKey = await kubeRequest(sim.api, "PATCH", HC, {
      body: { metadata: { annotations: { "bad key!": "x" } } },
      contentType: MERGE,
    });
    assert.equal(badKey.status, 422);
    assert.match(badKey.body.message, /metadata\.annotations: Invalid value: "bad key!"/);
    const tooBig = await kubeRequest(sim.api, "PATCH", HC, {
      body: { metadata: { annotations: { "hcp-etcd-backup.io/big": "x".repeat(300 * 1024) } } },
      contentType: MERGE,
    });
    assert.equal(tooBig.status, 422);
    assert.match(tooBig.body.message, /metadata\.annotations: Too long: must have at most 262144 bytes/);
    const notString = await kubeRequest(sim.api, "PATCH", HC, {
      body: { metadata: { annotations: { a: 1 } } },
      contentType: MERGE,
    });
    assert.equal(notString.status, 400);
    const ok = await kubeRequest(sim.api, "PATCH", HC, {
      body: { metadata: { annotations: { "hcp-etcd-backup.io/lock": "me" } } },
      contentType: MERGE,
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.metadata.annotations["hcp-etcd-backup.io/lock"], "me");
  });

  it("keeps status out of main-resource writes and spec out of /status writes", async () => {
    const before = (await kubeRequest(sim.api, "GET", HC)).body;
    const viaMain = await kubeRequest(sim.api, "PATCH", HC, {
      body: { status: { conditions: null, version: null } },
      contentType: MERGE,
    });
    assert.deepEqual(viaMain.body.status, before.status);
    const viaStatus = await kubeRequest(sim.api, "PATCH", `${HC}/status`, {
      body: {
        spec: { pausedUntil: "true" },
        status: { controlPlaneEndpoint: { host: "api.example.com", port: 6443 } },
      },
      contentType: MERGE,
    });
    assert.equal(viaStatus.status, 200);
    assert.equal(viaStatus.body.status.controlPlaneEndpoint.host, "api.example.com");
    assert.equal(viaStatus.body.spec.pausedUntil, before.spec.pausedUntil);
  });

  it("streams watch events from a resourceVersion", async () => {
    const start = (await kubeRequest(sim.api, "GET", "/api/v1/namespaces/clusters/configmaps")).body.metadata
      .resourceVersion;
    await kubeRequest(sim.api, "POST", "/api/v1/namespaces/clusters/configmaps", {
      body: { metadata: { name: "w1" } },
    });
    await kubeRequest(sim.api, "DELETE", "/api/v1/namespaces/clusters/configmaps/w1");
    const r = await kubeRequest(
      sim.api,
      "GET",
      `/api/v1/namespaces/clusters/configmaps?watch=true&resourceVersion=${start}&timeoutSeconds=1`,
    );
    const events = r.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      events.map((e: { type: string; object: { metadata: { name: string } } }) => [e.type, e.object.metadata.name]),
      [
        ["ADDED", "w1"],
        ["DELETED", "w1"],
      ],
    );
    const expired = await kubeRequest(
      sim.api,
      "GET",
      "/api/v1/namespaces/clusters/configmaps?watch=1&resourceVersion=0&timeoutSeconds=1",
    );
    assert.equal(expired.status, 200);
  });

  it("injects faults: N answers with a code, and an RBAC denial worded like kube-apiserver's", async () => {
    sim.faults.inject({ verb: "patch", resource: "deployments/scale", code: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await kubeRequest(sim.api, "PATCH", `${KAS}/scale`, {
        body: { spec: { replicas: 3 } },
        contentType: MERGE,
      });
      assert.equal(r.status, 500);
      assert.equal(r.body.reason, "InternalError");
    }
    assert.equal(
      (await kubeRequest(sim.api, "PATCH", `${KAS}/scale`, { body: { spec: { replicas: 3 } }, contentType: MERGE }))
        .status,
      200,
    );
    sim.faults.forbid({ verb: "patch", resource: "deployments/scale", user: "x" });
    const denied = await kubeRequest(sim.api, "PATCH", `${KAS}/scale`, {
      body: { spec: { replicas: 3 } },
      contentType: MERGE,
    });
    assert.equal(denied.status, 403);
    assert.equal(
      denied.body.message,
      'deployments.apps "kube-apiserver" is forbidden: User "x" cannot patch resource "deployments/scale" in API group "apps" in the namespace "clusters-example"',
    );
    assert.equal(sim.faults.pending, 0);
  });
});
