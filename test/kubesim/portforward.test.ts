import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { EtcdClient } from "../../src/etcd/client.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { kubeRequest } from "../support/kube-http.js";
import { forwardPort } from "../support/port-forward.js";

describe("kubesim pod port-forward (client-node PortForward → real etcd members)", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let kc: KubeConfig;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 3 });
    sim = await KubeSim.start(etcd);
    kc = new KubeConfig();
    kc.loadFromFile(await sim.kubeconfig());
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
  });

  it("reaches each etcd pod's member over mutual TLS through the forwarded port", async () => {
    const tls = await etcd.tlsMaterial();
    const direct = await etcd.statuses();
    const seen: string[] = [];
    for (const pod of sim.hostedCluster.etcdPods) {
      const fwd = await forwardPort(kc, sim.hostedCluster.controlPlaneNamespace, pod, 2379);
      try {
        const client = await EtcdClient.connect({
          endpoint: `https://127.0.0.1:${fwd.port}`,
          tls: { ...tls, serverName: "localhost" },
          callTimeoutMs: 10_000,
        });
        try {
          const st = await client.status();
          assert.ok(st.revision >= 1);
          seen.push(st.memberId);
        } finally {
          client.close();
        }
      } finally {
        await fwd.close();
      }
    }
    assert.deepEqual(
      seen,
      direct.map((s) => s.memberId),
      "etcd-<i> forwards to member i",
    );
    assert.equal(new Set(seen).size, 3);
  });

  it("carries a snapshot stream of several MiB intact (etcd's SHA-256 trailer matches)", async () => {
    const fwd = await forwardPort(kc, sim.hostedCluster.controlPlaneNamespace, "etcd-1", 2379);
    try {
      const client = await EtcdClient.connect({
        endpoint: `https://127.0.0.1:${fwd.port}`,
        tls: await etcd.tlsMaterial(),
      });
      try {
        // etcd takes at most 1.5 MiB a request: four puts of 512 KiB make a snapshot of several MiB.
        for (let i = 0; i < 4; i++) await client.put(`/kubesim/big-${i}`, Buffer.alloc(512 * 1024, i));
        const chunks: Buffer[] = [];
        for await (const chunk of client.snapshot()) chunks.push(chunk.blob);
        const all = Buffer.concat(chunks);
        assert.ok(all.length > 2 * 1024 * 1024, `snapshot of ${all.length} bytes`);
        // etcd appends the SHA-256 of the database: a byte lost or reordered on the way breaks it.
        const body = all.subarray(0, all.length - 32);
        assert.deepEqual(createHash("sha256").update(body).digest(), all.subarray(all.length - 32));
      } finally {
        client.close();
      }
    } finally {
      await fwd.close();
    }
  });

  it("refuses an upgrade without the token, and 404s an unknown pod", async () => {
    const noToken = await kubeRequest(
      sim.api,
      "GET",
      "/api/v1/namespaces/clusters-example/pods/etcd-0/portforward?ports=2379",
      {
        token: null,
      },
    );
    assert.equal(noToken.status, 401);
    const bad = new KubeConfig();
    bad.loadFromFile(await sim.kubeconfig());
    await assert.rejects(forwardOnce(bad, "etcd-9"));
  });
});

/** One forwarded connection's WebSocket, opened directly: rejects when the server refuses the upgrade. */
async function forwardOnce(kc: KubeConfig, pod: string): Promise<void> {
  const { PortForward } = await import("@kubernetes/client-node");
  const { PassThrough } = await import("node:stream");
  const io = new PassThrough();
  const ws = await new PortForward(kc).portForward("clusters-example", pod, [2379], io, null, io);
  (ws as { close(): void }).close();
}
