// The replay's own gRPC calls (TxnChannel: KV.Txn framed on a Node HTTP/2 session) against a real
// etcd 3.4 with mutual TLS: the revision etcd answers, etcd's refusals and a lost etcd as one-line
// EtcdErrors, a cancel as a CancelledError.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CancelledError, EtcdError } from "../../src/errors.js";
import { TxnChannel } from "../../src/etcd/txn-channel.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";

describe("TxnChannel on a real etcd", () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });
  const open = async (signal?: AbortSignal) =>
    TxnChannel.open(cluster.endpoint(0), await cluster.tlsMaterial(), signal ? { signal } : {});

  it("applies puts and deletes as one revision each Txn and returns etcd's revision", async () => {
    const ch = await open();
    try {
      const client = await cluster.client(0);
      const before = await client.put("tc/seed", "0");
      client.close();
      const r1 = await ch.txn([
        { type: "put", key: Buffer.from("tc/a"), value: Buffer.from("1") },
        { type: "put", key: Buffer.from("tc/b"), value: Buffer.alloc(70_000, 7) },
      ]);
      assert.equal(r1, before + 1);
      const r2 = await ch.txn([{ type: "delete", key: Buffer.from("tc/a") }]);
      assert.equal(r2, r1 + 1);
      const got = await etcdctl(cluster, ["get", "tc/", "--prefix", "--keys-only"]);
      assert.deepEqual(got.split("\n").filter(Boolean), ["tc/b", "tc/seed"]);
      const rev = JSON.parse(await etcdctl(cluster, ["get", "tc/b", "-w", "json"])) as {
        kvs: Array<{ mod_revision: number; value: string }>;
      };
      assert.equal(rev.kvs[0]?.mod_revision, r1);
      assert.equal(Buffer.from(rev.kvs[0]?.value ?? "", "base64").length, 70_000);
    } finally {
      ch.close();
    }
  });

  it("a Txn etcd refuses is an EtcdError with etcd's words, and the channel goes on", async () => {
    const ch = await open();
    try {
      await assert.rejects(
        ch.txn([{ type: "put", key: Buffer.alloc(0), value: Buffer.from("x") }]),
        (err: unknown) => err instanceof EtcdError && /key is not provided/.test(err.message),
      );
      assert.ok((await ch.txn([{ type: "put", key: Buffer.from("tc/after"), value: Buffer.from("y") }])) > 0);
    } finally {
      ch.close();
    }
  });

  it("a cancel rejects with a CancelledError; a stopped etcd with an EtcdError naming it", async () => {
    const abort = new AbortController();
    const ch = await open(abort.signal);
    const pending = ch.txn([{ type: "put", key: Buffer.from("tc/c"), value: Buffer.from("z") }]);
    abort.abort();
    await assert.rejects(
      pending.then(() => ch.txn([{ type: "put", key: Buffer.from("tc/c"), value: Buffer.from("z") }])),
      CancelledError,
    );
    const other = await open();
    try {
      await cluster.stopMember(0);
      await assert.rejects(
        other.txn([{ type: "put", key: Buffer.from("tc/d"), value: Buffer.from("w") }]),
        (err: unknown) =>
          err instanceof EtcdError && err.message.includes(cluster.endpoint(0)) && !/\n/.test(err.message),
      );
    } finally {
      other.close();
      await cluster.restart(0);
    }
  });
});
