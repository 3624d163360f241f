// A client with --user/--password outlives its token: etcd forgets simple tokens when it restarts (and
// after --auth-token-ttl unused). A continuous backup holds one client for days, so the client fetches
// a new token and makes the call again instead of failing the run.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EtcdClient } from "../../src/etcd/client.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";

describe("etcd token auth: a refused token is replaced once (real etcd 3.4, auth enabled, mutual TLS)", () => {
  let cluster: EtcdCluster;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const connect = async () =>
    EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: await cluster.tlsMaterial(),
      auth: { user: "root", password },
    });

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    await etcdctl(cluster, ["user", "add", "root", `--new-user-password=${password}`]);
    await etcdctl(cluster, ["auth", "enable"]);
  });
  after(async () => {
    await cluster?.stop();
  });

  it("after etcd restarts (its simple tokens are gone), the same client goes on", async () => {
    const client = await connect();
    try {
      await client.put("/auth-test/b", "1");
      await cluster.stopMember(0);
      try {
        assert.equal(cluster.isRunning(0), false);
      } finally {
        await cluster.restart(0);
      }
      await client.put("/auth-test/b", "2");
      const page = await client.range({ key: Buffer.from("/auth-test/b"), rangeEnd: Buffer.alloc(0) });
      assert.equal(page.kvs[0]?.value.toString(), "2");
    } finally {
      client.close();
    }
  });

  it("a wrong password is still refused at once, in one line", async () => {
    await assert.rejects(
      EtcdClient.connect({
        endpoint: cluster.endpoint(0),
        tls: await cluster.tlsMaterial(),
        auth: { user: "root", password: `${password}-wrong` },
      }),
      (err: Error) => /refused the credentials/.test(err.message) && !err.message.includes(password),
    );
  });
});
