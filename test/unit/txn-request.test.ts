// TxnChannel writes its TxnRequest with protobufjs: a field name the schema does not know is dropped
// without a word, so an empty Txn would reach etcd. Checked against the schema as the CLI loads it
// and as the single executable carries it (parsed to JSON by scripts/build-sea.ts, keepCase).
import assert from "node:assert/strict";
import { join } from "node:path";
import { it } from "node:test";
import protobuf from "protobufjs";
import { etcdMessageTypes } from "../../src/etcd/proto.js";
import { txnRequest } from "../../src/etcd/txn-channel.js";
import { packageRoot } from "../../src/package-info.js";

const ops = [
  { type: "put" as const, key: Buffer.from("a"), value: Buffer.from("1"), lease: "7587870000000000123" },
  { type: "delete" as const, key: Buffer.from("b") },
];

function roundTrip(type: protobuf.Type): unknown {
  const bytes = type.encode(txnRequest(ops)).finish();
  return type.toObject(type.decode(bytes), { longs: String, bytes: String });
}

const expected = {
  success: [
    { request_put: { key: "YQ==", value: "MQ==", lease: "7587870000000000123" } },
    { request_delete_range: { key: "Yg==" } },
  ],
};

it("every op survives the encoding, with the CLI's schema", () => {
  assert.deepEqual(roundTrip(etcdMessageTypes().TxnRequest), expected);
});

it("every op survives the encoding, with the single executable's parsed schema", () => {
  const parsed = new protobuf.Root().loadSync(join(packageRoot(), "proto", "etcd.proto"), { keepCase: true });
  const sea = protobuf.Root.fromJSON(JSON.parse(JSON.stringify(parsed.toJSON())) as protobuf.INamespace);
  assert.deepEqual(roundTrip(sea.lookupType("etcdserverpb.TxnRequest")), expected);
});
