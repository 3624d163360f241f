import { PROTOBUF_MAGIC, storageForm } from "../encryption/storage-form.js";
import { type Json, messageToJson } from "./api-json.js";
import { messageType, objectMetaType, unknownType } from "./schemas.js";

export type ApiObject = { [k: string]: Json };

/** A plaintext value decoded: the object, or why it could not be. `note` marks a partial object. */
export type Decoded =
  | { readonly ok: true; readonly object: ApiObject; readonly note?: string }
  | { readonly ok: false; readonly reason: string };

/**
 * A plaintext value as kube-apiserver stored it: `k8s\0` + runtime.Unknown (typeMeta, raw) for
 * built-in kinds, JSON for custom resources. A kind whose schema we do not carry keeps its
 * apiVersion, kind and metadata (field 1 of every Kubernetes object) and says so.
 */
export function decodeValue(plain: Buffer): Decoded {
  const form = storageForm(plain).form;
  if (form === "json") {
    try {
      const object = JSON.parse(plain.toString("utf8")) as unknown;
      if (object && typeof object === "object" && !Array.isArray(object))
        return { ok: true, object: object as ApiObject };
    } catch {
      // reported below
    }
    return { ok: false, reason: "starts like JSON but is not a JSON object" };
  }
  if (form !== "protobuf") return { ok: false, reason: "neither Kubernetes protobuf nor JSON" };
  let envelope: { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
  try {
    envelope = unknownType().decode(plain.subarray(PROTOBUF_MAGIC.length)) as typeof envelope;
  } catch (err) {
    return { ok: false, reason: `not a runtime.Unknown envelope: ${(err as Error).message}` };
  }
  const apiVersion = envelope.typeMeta?.apiVersion ?? "";
  const kind = envelope.typeMeta?.kind ?? "";
  if (!apiVersion || !kind) return { ok: false, reason: "protobuf envelope without apiVersion and kind" };
  const raw = envelope.raw ?? new Uint8Array();
  const type = messageType(apiVersion, kind);
  try {
    if (type) return { ok: true, object: { apiVersion, kind, ...messageToJson(type, type.decode(raw)) } };
    // Every Kubernetes object's field 1 is its ObjectMeta: decode just that.
    const meta = objectMetaType();
    const partial = metadataOnly(raw);
    const metadata = partial ? messageToJson(meta, meta.decode(partial)) : {};
    return {
      ok: true,
      object: { apiVersion, kind, metadata },
      note: `${apiVersion} ${kind}: no schema for this kind here, so only apiVersion, kind and metadata are shown`,
    };
  } catch (err) {
    return { ok: false, reason: `${apiVersion} ${kind}: protobuf does not decode: ${(err as Error).message}` };
  }
}

/** The bytes of field 1 (length-delimited) of a message, skipping every other field. */
function metadataOnly(raw: Uint8Array): Uint8Array | undefined {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= raw.length) throw new RangeError("truncated varint");
      const b = raw[pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (pos < raw.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (tag >>> 3 === 1) return raw.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new RangeError(`wire type ${wire}`);
  }
  return undefined;
}
