import { createHash } from "node:crypto";

/** SHA-256 (hex) of the key bytes: what the manifest records to recognise the key, never the key. */
export function keyFingerprint(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex");
}

/**
 * The name kube-apiserver's EncryptionConfiguration gives an aescbc key in a hosted control plane:
 * `key-<FNV-1 32-bit hash of the key bytes, in decimal>` (HyperShift's control-plane operator uses
 * Go's fnv.New32, FNV-1 — not FNV-1a). Only the bytes must match at restore; this name proves which.
 */
export function aescbcKeyName(key: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of key) {
    hash = Math.imul(hash, 0x01000193) >>> 0;
    hash = (hash ^ byte) >>> 0;
  }
  return `key-${hash}`;
}
