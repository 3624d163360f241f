// Pipelined replay (OrderedTxns) against a real etcd: a Txn whose guard fails creates no revision, and
// Txns that reach etcd ahead of their predecessor are held back, so every source revision lands as
// itself and the state is the one the source had.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OrderedTxns, type SendTxn } from "../../src/continuous/ordered-txns.js";
import type { EtcdClient, TxnOp } from "../../src/etcd/client.js";
import { EtcdCluster } from "../support/etcd-cluster.js";

const put = (key: string, value: string): TxnOp => ({ type: "put", key: Buffer.from(key), value: Buffer.from(value) });
const del = (key: string): TxnOp => ({ type: "delete", key: Buffer.from(key) });

/** Every key and value under a prefix, as a plain object. */
async function stateUnder(client: EtcdClient, prefix: string): Promise<Record<string, string>> {
  const page = await client.range({ key: Buffer.from(prefix), rangeEnd: Buffer.from(`${prefix}\xff`), limit: 0 });
  return Object.fromEntries(page.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
}

/**
 * Sends in swapped pairs: a Txn is held until the next one has been answered, so the later one always
 * reaches etcd first. A held Txn with no successor coming (the replayer is waiting) goes out once the
 * event loop is idle, which is when the replayer has nothing more to send.
 */
function swappingPairs(client: EtcdClient): SendTxn {
  let held: (() => void) | undefined;
  return (ops, guard) =>
    new Promise((resolve, reject) => {
      const go = () => client.txn(ops, guard).then(resolve, reject);
      const earlier = held;
      if (earlier) {
        held = undefined;
        client.txn(ops, guard).then((r) => {
          resolve(r);
          earlier();
        }, reject);
        return;
      }
      held = go;
      setImmediate(() => {
        if (held === go) {
          held = undefined;
          go();
        }
      });
    });
}

describe("pipelined replay keeps source revisions aligned", () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    client = await cluster.client(0);
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  it("a Txn whose guard fails applies nothing and creates no revision", async () => {
    const r = await client.put("guard/k", "v1");
    const mod = await client.txn([put("guard/k", "v2"), put("guard/other", "x")], {
      target: "mod",
      key: Buffer.from("guard/k"),
      equals: r + 1,
    });
    assert.deepEqual(mod, { succeeded: false, revision: r });
    const version = await client.txn([del("guard/k")], { target: "version", key: Buffer.from("guard/k"), equals: 0 });
    assert.deepEqual(version, { succeeded: false, revision: r });
    assert.equal((await client.status()).revision, r);
    assert.deepEqual(await stateUnder(client, "guard/"), { "guard/k": "v1" });
    const held = await client.txn([put("guard/k", "v3")], { target: "mod", key: Buffer.from("guard/k"), equals: r });
    assert.deepEqual(held, { succeeded: true, revision: r + 1 });
  });

  it("Txns sent ahead of their predecessor are resent after it, each landing on its source revision", async () => {
    const start = (await client.status()).revision;
    // Puts, overwrites, several keys in one revision, deletes, and delete-only revisions whose deleted
    // key is put again within the window (no sound VERSION guard then: the window drains).
    const revisions: TxnOp[][] = [];
    for (let i = 0; i < 300; i++) {
      const k = `order/k${i % 7}`;
      if (i % 11 === 5) revisions.push([del(`order/k${(i - 1) % 7}`)]);
      else if (i % 13 === 0) revisions.push([put(k, `v${i}`), put(`order/pair${i % 3}`, `p${i}`)]);
      else revisions.push([put(k, `v${i}`)]);
    }
    const expected: Record<string, string> = {};
    for (const ops of revisions)
      for (const op of ops)
        if (op.type === "put") expected[op.key.toString()] = op.value.toString();
        else delete expected[op.key.toString()];

    const landed: Array<[number, number]> = [];
    const txns = new OrderedTxns(swappingPairs(client), 8, (source, got) => landed.push([source, got]));
    for (const [i, ops] of revisions.entries()) await txns.push(start + 1 + i, ops);
    await txns.drain();

    assert.equal(landed.length, revisions.length);
    for (const [source, got] of landed) assert.equal(got, source, `source revision ${source} landed as ${got}`);
    assert.deepEqual(
      landed.map(([s]) => s),
      revisions.map((_, i) => start + 1 + i),
      "applied in source order",
    );
    assert.ok(txns.resent > 0, "the swapped pairs made Txns arrive before their predecessor");
    assert.equal((await client.status()).revision, start + revisions.length);
    assert.deepEqual(await stateUnder(client, "order/"), expected);
  });
});
