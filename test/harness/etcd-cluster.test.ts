import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CancelledError, OperationError } from "../../src/errors.js";
import { EtcdClient } from "../../src/etcd/client.js";
import { StartTimeoutError } from "../../src/localetcd/cluster.js";
import { EtcdCluster, loadKubernetesData } from "../support/etcd-cluster.js";
import { createForeignClient } from "../support/foreign-ca.js";
import { leftoverTempDirs } from "../support/leftovers.js";
import { waitFor } from "../support/wait.js";

describe("EtcdCluster (3 real etcd members, mutual TLS)", () => {
  let cluster: EtcdCluster;

  before(async () => {
    cluster = await EtcdCluster.start();
  });
  after(async () => {
    await cluster?.stop();
  });

  it("has three started members that agree on cluster and leader", async () => {
    const client = await cluster.client(0);
    try {
      const members = await client.memberList();
      assert.equal(members.length, 3);
      assert.deepEqual(members.map((m) => m.name).sort(), ["member-0", "member-1", "member-2"]);
      for (const m of members) assert.equal(m.clientURLs.length, 1);
    } finally {
      client.close();
    }
    const statuses = await cluster.statuses();
    assert.equal(statuses.length, 3);
    assert.equal(new Set(statuses.map((s) => s.clusterId)).size, 1);
    assert.equal(new Set(statuses.map((s) => s.leaderId)).size, 1);
    assert.equal(statuses.filter((s) => s.isLeader).length, 1);
  });

  it("refuses a client without a certificate", async () => {
    const { ca } = await cluster.tlsMaterial();
    const client = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: { ca, serverName: "localhost" },
      callTimeoutMs: 5000,
    });
    try {
      await assert.rejects(client.status(), /TLS failure .*refused our client certificate/);
    } finally {
      client.close();
    }
  });

  it("refuses a client certificate from another CA", async () => {
    const foreign = await createForeignClient(cluster.pki.dir);
    const { ca } = await cluster.tlsMaterial();
    const client = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: { ca, cert: await readFile(foreign.cert), key: await readFile(foreign.key), serverName: "localhost" },
      callTimeoutMs: 5000,
    });
    try {
      await assert.rejects(client.status(), /TLS failure .*refused our client certificate/);
    } finally {
      client.close();
    }
  });

  it("refuses plaintext and rejects a server the client's CA did not sign", async () => {
    const plain = await EtcdClient.connect({
      endpoint: cluster.endpoint(0).replace("https", "http"),
      callTimeoutMs: 3000,
    });
    try {
      await assert.rejects(plain.status(), OperationError);
    } finally {
      plain.close();
    }
    const foreign = await createForeignClient(cluster.pki.dir);
    const { cert, key } = await cluster.tlsMaterial();
    const wrongCa = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: { ca: await readFile(foreign.caCert), cert, key, serverName: "localhost" },
      callTimeoutMs: 3000,
    });
    try {
      await assert.rejects(wrongCa.status(), /TLS failure.*not signed by the CA/);
    } finally {
      wrongCa.close();
    }
  });

  it("sees a killed member as down, keeps serving, and restarts it", async () => {
    // A follower: killing the leader is a different test (an election makes writes fail for a while).
    const statuses = await cluster.statuses();
    const leaderId = statuses[0]?.leaderId;
    const victim = statuses.findIndex((s) => s.memberId !== leaderId);
    const leader = statuses.findIndex((s) => s.isLeader);
    assert.ok(victim >= 0 && leader >= 0);
    const pid = cluster.pid(victim);
    assert.ok(pid);
    let rev = 0;
    try {
      await cluster.kill(victim);
      assert.equal(cluster.isRunning(victim), false);
      assert.equal(existsSync(`/proc/${pid}/cmdline`) && !(await isZombie(pid)), false);

      const down = await EtcdClient.connect({
        endpoint: cluster.endpoint(victim),
        tls: await cluster.tlsMaterial(),
        callTimeoutMs: 2000,
      });
      try {
        await assert.rejects(down.status(), /cannot reach etcd|did not answer|unavailable/);
      } finally {
        down.close();
      }
      // Two of three members keep quorum: writes still succeed.
      const live = await cluster.client(leader);
      try {
        rev = await live.put("/kubernetes.io/pods/default/while-down", "x");
      } finally {
        live.close();
      }

      await cluster.restart(victim);
      assert.equal(cluster.isRunning(victim), true);
    } finally {
      if (!cluster.isRunning(victim)) await cluster.restart(victim);
    }
    const back = await cluster.client(victim);
    try {
      const { kvs, revision } = await back.getPrefix("/kubernetes.io/pods/default/while-down");
      assert.equal(kvs.length, 1, "the restarted member caught up with the write it missed");
      assert.ok(revision >= rev);
    } finally {
      back.close();
    }
  });

  it("loads Kubernetes-like keys up to a target size", async () => {
    const client = await cluster.client(0);
    try {
      const before = await client.count("/kubernetes.io/");
      const result = await loadKubernetesData(client, { targetBytes: 3 * 1024 * 1024, valueSize: [1024, 16384] });
      assert.ok(result.bytes >= 3 * 1024 * 1024);
      assert.ok(result.bytes < 3 * 1024 * 1024 + 16384);
      assert.equal(await client.count("/kubernetes.io/"), before + result.keys);
      const { kvs } = await client.getPrefix("/kubernetes.io/secrets/");
      assert.ok(kvs.length > 0);
      for (const kv of kvs) {
        assert.match(kv.key.toString(), /^\/kubernetes\.io\/secrets\/[a-z0-9-]+\/object-\d{8}$/);
        assert.ok(kv.value.length >= 1024 && kv.value.length <= 16384);
      }
    } finally {
      client.close();
    }
  });
});

describe("EtcdCluster bad input", () => {
  it("names a missing etcd binary and leaves nothing behind", async () => {
    const before = new Set(leftoverTempDirs());
    await assert.rejects(
      EtcdCluster.start({ etcdBinary: "/nonexistent/etcd" }),
      /cannot start etcd: "\/nonexistent\/etcd" not found; install it with: apt-get install etcd-server/,
    );
    assert.deepEqual(
      leftoverTempDirs().filter((d) => !before.has(d)),
      [],
    );
  });

  it("reports an etcd that is not healthy in time, and kills it", async () => {
    // A stand-in "etcd" that runs but never serves: the cluster can only time out.
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    const fake = join(dir, "etcd");
    await writeFile(fake, `#!/bin/sh\necho $$ >> ${dir}/pids\nexec sleep 600\n`, { mode: 0o755 });
    try {
      const err = await EtcdCluster.start({ etcdBinary: fake, startTimeoutMs: 1500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof StartTimeoutError, String(err));
      assert.match(err.message, /etcd did not become healthy within 1\.5s/);
      const pids = (await readFile(join(dir, "pids"), "utf8")).trim().split("\n").map(Number);
      assert.equal(pids.length, 3);
      for (const pid of pids) assert.equal(await isAlive(pid), false, `stand-in member ${pid} was killed`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("EtcdCluster start cancelled", () => {
  it("kills the members of a start in flight when its signal aborts, and rejects as cancelled, not timed out", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    const fake = join(dir, "etcd");
    await writeFile(fake, `#!/bin/sh\necho $$ >> ${dir}/pids\nexec sleep 600\n`, { mode: 0o755 });
    const before = new Set(leftoverTempDirs());
    const abort = new AbortController();
    try {
      // A timeout far longer than the test waits: only the signal can end this start.
      const starting = EtcdCluster.start({ etcdBinary: fake, startTimeoutMs: 300_000, signal: abort.signal }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const pids = await waitFor("three stand-in members running", async () => {
        const ids = (await readFile(join(dir, "pids"), "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
        return ids.length === 3 ? ids.map(Number) : undefined;
      });
      abort.abort();
      const err = await starting;
      assert.ok(err instanceof CancelledError, String(err));
      assert.ok(!(err instanceof StartTimeoutError));
      for (const pid of pids) assert.equal(await isAlive(pid), false, `stand-in member ${pid} was killed`);
      assert.deepEqual(
        leftoverTempDirs().filter((d) => !before.has(d)),
        [],
      );
    } finally {
      abort.abort();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function isAlive(pid: number): Promise<boolean> {
  return !(await isZombie(pid));
}

async function isZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat === "" || /\) Z /.test(stat);
}
