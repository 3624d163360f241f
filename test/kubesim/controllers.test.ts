import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JsonObject } from "../../src/kubesim/json.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { kubeRequest } from "../support/kube-http.js";
import { waitFor } from "../support/wait.js";

const HC = "/apis/hypershift.openshift.io/v1beta1/namespaces/clusters/hostedclusters/example";
const HCP = "/apis/hypershift.openshift.io/v1beta1/namespaces/clusters-example/hostedcontrolplanes/example";
const DEPLOY = "/apis/apps/v1/namespaces/clusters-example/deployments";
const MERGE = "application/merge-patch+json";

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const PROPAGATION_MS = 1500;

describe("kubesim HyperShift behaviours (pause propagation, control-plane operator, deployment controller)", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    // A propagation delay far above a loaded machine's scheduling delays: the first test reads the
    // HostedControlPlane right after the patch and must find it not yet copied.
    sim = await KubeSim.start(etcd, { controllers: { pausePropagationMs: PROPAGATION_MS } });
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
  });

  const get = async (path: string): Promise<JsonObject> => (await kubeRequest(sim.api, "GET", path)).body;
  const setPause = async (value: string | null): Promise<void> => {
    const r = await kubeRequest(sim.api, "PATCH", HC, { body: { spec: { pausedUntil: value } }, contentType: MERGE });
    assert.equal(r.status, 200, r.text);
  };
  const reconciliation = (obj: JsonObject): Condition | undefined =>
    ((obj.status as { conditions?: Condition[] }).conditions ?? []).find((c) => c.type === "ReconciliationActive");
  const bothShow = (want: Partial<Condition>, hcpPausedUntil: string | undefined) =>
    waitFor(`ReconciliationActive ${JSON.stringify(want)} on HC and HCP`, async () => {
      const [hc, hcp] = [await get(HC), await get(HCP)];
      const ok = [hc, hcp].every((o) => {
        const c = reconciliation(o);
        return c !== undefined && Object.entries(want).every(([k, v]) => c[k as keyof Condition] === v);
      });
      return ok && (hcp.spec as { pausedUntil?: string }).pausedUntil === hcpPausedUntil ? true : undefined;
    });
  const pods = async (app: string): Promise<JsonObject[]> =>
    (await get(`/api/v1/namespaces/clusters-example/pods?labelSelector=app%3D${app}`)).items as JsonObject[];

  it("propagates pausedUntil to the HostedControlPlane after a delay and reports ReconciliationPaused", async () => {
    const deadline = new Date(sim.clock.now().getTime() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
    const t0 = Date.now();
    await setPause(deadline);
    assert.equal(((await get(HCP)).spec as { pausedUntil?: string }).pausedUntil, undefined, "not copied at once");
    await bothShow(
      { status: "False", reason: "ReconciliationPaused", message: `Reconciliation paused until: ${deadline}` },
      deadline,
    );
    assert.ok(Date.now() - t0 >= PROPAGATION_MS - 50, "propagation takes pausePropagationMs");
    await setPause("true");
    await bothShow({ status: "False", message: "Reconciliation paused until field removed" }, "true");
    await setPause(null);
    await bothShow({ status: "True", reason: "AsExpected" }, undefined);
  });

  it("treats a time without a zone as not paused (InvalidPausedUntilValue), as HyperShift does", async () => {
    await setPause("2099-01-01T00:00:00");
    await bothShow({ status: "True", reason: "InvalidPausedUntilValue" }, "2099-01-01T00:00:00");
    await setPause(null);
    await bothShow({ status: "True", reason: "AsExpected" }, undefined);
  });

  it("puts a scaled-down writer back while not paused", async () => {
    const r = await kubeRequest(sim.api, "PATCH", `${DEPLOY}/openshift-apiserver/scale`, {
      body: { spec: { replicas: 0 } },
      contentType: MERGE,
    });
    assert.equal(r.status, 200);
    await waitFor("openshift-apiserver back at 3 ready replicas", async () => {
      const d = await get(`${DEPLOY}/openshift-apiserver`);
      const st = d.status as { readyReplicas?: number };
      return (d.spec as { replicas: number }).replicas === 3 && st.readyReplicas === 3 ? true : undefined;
    });
  });

  it("while paused, scaling writers to 0 terminates their pods and sticks; the deadline passing brings them back", async () => {
    const deadline = new Date(sim.clock.now().getTime() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
    await setPause(deadline);
    await bothShow({ status: "False", reason: "ReconciliationPaused" }, deadline);
    const r = await kubeRequest(sim.api, "PATCH", `${DEPLOY}/kube-apiserver/scale`, {
      body: { spec: { replicas: 0 } },
      contentType: MERGE,
    });
    assert.equal(r.status, 200);
    const terminating = await waitFor("kube-apiserver pods marked for deletion", async () => {
      const ps = await pods("kube-apiserver");
      return ps.length === 3 && ps.every((p) => (p.metadata as JsonObject).deletionTimestamp) ? ps : undefined;
    });
    assert.equal(terminating.length, 3);
    await waitFor("kube-apiserver pods gone", async () =>
      (await pods("kube-apiserver")).length === 0 ? true : undefined,
    );
    // The pods took podTerminationMs (500 ms), five times reconcileMs: a paused operator left the writer alone.
    const d = await get(`${DEPLOY}/kube-apiserver`);
    assert.equal((d.spec as { replicas: number }).replicas, 0);
    const st = d.status as { replicas?: number; readyReplicas?: number; observedGeneration: number };
    assert.equal(st.replicas, undefined);
    assert.equal(st.readyReplicas, undefined);
    assert.equal(st.observedGeneration, (d.metadata as { generation: number }).generation);

    sim.clock.advance(3600_000 + 1000);
    await bothShow({ status: "True", reason: "AsExpected" }, deadline);
    const back = await waitFor("kube-apiserver back with 3 ready pods", async () => {
      const dep = await get(`${DEPLOY}/kube-apiserver`);
      const s = dep.status as {
        replicas?: number;
        readyReplicas?: number;
        availableReplicas?: number;
        updatedReplicas?: number;
      };
      return (dep.spec as { replicas: number }).replicas === 3 && s.readyReplicas === 3 ? s : undefined;
    });
    assert.deepEqual([back.replicas, back.availableReplicas, back.updatedReplicas], [3, 3, 3]);
    const ready = await pods("kube-apiserver");
    assert.equal(ready.length, 3);
    for (const p of ready) assert.equal((p.status as { phase: string }).phase, "Running");
    await setPause(null);
    await bothShow({ status: "True", reason: "AsExpected" }, undefined);
  });

  it("stop() leaves no timer or server behind", async () => {
    const other = await KubeSim.start(etcd);
    const url = other.url;
    await other.stop();
    await assert.rejects(kubeRequest(other.api, "GET", "/version"), /ECONNREFUSED/);
    assert.notEqual(url, sim.url);
  });
});
