/**
 * How kube-apiserver stored one value in etcd, read from its first bytes: plain (protobuf with the
 * `k8s\0` magic, or JSON for custom resources) or behind one of the encryption providers' prefixes.
 */
export type StorageForm =
  | { readonly form: "protobuf" }
  | { readonly form: "json" }
  | { readonly form: "aescbc"; readonly keyName: string; readonly payload: Buffer }
  | { readonly form: "secretbox"; readonly keyName: string }
  | { readonly form: "kms-v1"; readonly provider: string }
  | { readonly form: "kms-v2"; readonly provider: string }
  | { readonly form: "unknown" };

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"
const ENCRYPTED = "k8s:enc:";

/** Classifies a stored value without copying it; an aescbc payload is a view into `value`. */
export function storageForm(value: Buffer): StorageForm {
  if (value.subarray(0, 4).equals(PROTOBUF_MAGIC)) return { form: "protobuf" };
  if (value.subarray(0, ENCRYPTED.length).toString("latin1") === ENCRYPTED) return encryptedForm(value);
  const first = firstNonSpace(value);
  if (first === 0x7b /* { */) return { form: "json" };
  return { form: "unknown" };
}

/** `k8s:enc:<provider>:v<n>:<name>:` then the provider's bytes. */
function encryptedForm(value: Buffer): StorageForm {
  // The header is ASCII and short; the name ends at the fifth colon.
  const head = value.subarray(0, 256).toString("latin1");
  const parts = head.split(":");
  if (parts.length < 6) return { form: "unknown" };
  const [, , provider, version, name] = parts as [string, string, string, string, string];
  const payloadStart = [parts[0], parts[1], provider, version, name].join(":").length + 1;
  if (provider === "aescbc" && version === "v1")
    return { form: "aescbc", keyName: name, payload: value.subarray(payloadStart) };
  if (provider === "secretbox" && version === "v1") return { form: "secretbox", keyName: name };
  if (provider === "kms" && version === "v1") return { form: "kms-v1", provider: name };
  if (provider === "kms" && version === "v2") return { form: "kms-v2", provider: name };
  return { form: "unknown" };
}

function firstNonSpace(value: Buffer): number | undefined {
  for (const b of value) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  return undefined;
}

/** A plaintext kube-apiserver could have written: protobuf with its magic, or a JSON object. */
export function isKubernetesValue(plain: Buffer): boolean {
  const f = storageForm(plain).form;
  return f === "protobuf" || f === "json";
}
