// Values written exactly as kube-apiserver writes them to etcd: `k8s\0` + runtime.Unknown around the
// typed message, encoded with the vendored .proto schemas; aescbc-encrypted as its transformer does.
import { aescbcEncrypt } from "../../src/encryption/aescbc.js";
import { aescbcKeyName } from "../../src/hostedcluster/encryption-key.js";
import { messageType, unknownType } from "../../src/kubeobjects/schemas.js";

export function protobufValue(apiVersion: string, kind: string, object: Record<string, unknown>): Buffer {
  const type = messageType(apiVersion, kind);
  if (!type) throw new Error(`no schema for ${apiVersion} ${kind}`);
  const err = type.verify(object);
  if (err) throw new Error(`${kind}: ${err}`);
  const raw = type.encode(type.fromObject(object)).finish();
  const u = unknownType();
  const envelope = u
    .encode(u.fromObject({ typeMeta: { apiVersion, kind }, raw, contentEncoding: "", contentType: "" }))
    .finish();
  return Buffer.concat([Buffer.from("k8s\0", "latin1"), envelope]);
}

export function encrypted(key: Buffer, plain: Buffer): Buffer {
  return aescbcEncrypt(key, aescbcKeyName(key), plain);
}
