import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { packageRoot } from "../package-info.js";
import { inSea, seaJson } from "../sea.js";

type ServiceCtor = new (target: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;

export interface EtcdServices {
  KV: ServiceCtor;
  Lease: ServiceCtor;
  Cluster: ServiceCtor;
  Maintenance: ServiceCtor;
  Auth: ServiceCtor;
  Watch: ServiceCtor;
}

let cached: EtcdServices | undefined;

export function etcdServices(): EtcdServices {
  if (cached) return cached;
  const options: protoLoader.Options = {
    // IDs exceed 2^53 and field names like `ID`/`peerURLs` must stay as etcd spells them.
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  };
  // The single executable carries the parsed schema (scripts/build-sea.ts), not the .proto files.
  const definition = inSea()
    ? protoLoader.fromJSON(seaJson<protobuf.INamespace>("etcd.proto.json"), options)
    : protoLoader.loadSync(join(packageRoot(), "proto", "etcd.proto"), options);
  const pkg = grpc.loadPackageDefinition(definition).etcdserverpb as unknown as EtcdServices;
  cached = pkg;
  return pkg;
}

let messageTypes: { readonly TxnRequest: protobuf.Type; readonly TxnResponse: protobuf.Type } | undefined;

/** The message types TxnChannel writes and reads itself, from the same schema. */
export function etcdMessageTypes(): { readonly TxnRequest: protobuf.Type; readonly TxnResponse: protobuf.Type } {
  if (messageTypes) return messageTypes;
  // Field names as etcd spells them (request_put), as the single executable's parsed schema has them.
  const root = inSea()
    ? protobuf.Root.fromJSON(seaJson<protobuf.INamespace>("etcd.proto.json"))
    : new protobuf.Root().loadSync(join(packageRoot(), "proto", "etcd.proto"), { keepCase: true });
  messageTypes = {
    TxnRequest: root.lookupType("etcdserverpb.TxnRequest"),
    TxnResponse: root.lookupType("etcdserverpb.TxnResponse"),
  };
  return messageTypes;
}

/** Wire shapes as proto-loader decodes them (int64/uint64 as decimal strings). */
export interface RawHeader {
  cluster_id: string;
  member_id: string;
  revision: string;
  raft_term: string;
}
export interface RawKeyValue {
  key: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: Buffer;
  lease: string;
}
export interface RawMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}
export interface RawStatus {
  header: RawHeader;
  version: string;
  dbSize: string;
  leader: string;
  raftIndex: string;
  raftTerm: string;
  raftAppliedIndex: string;
  errors: string[];
  dbSizeInUse: string;
  isLearner: boolean;
  storageVersion: string;
}
export interface RawSnapshotChunk {
  remaining_bytes: string;
  blob: Buffer;
  version: string;
}
