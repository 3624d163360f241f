import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * The aescbc provider of k8s.io/apiserver: a 16-byte IV, then AES-CBC with PKCS#7 padding. The key
 * is 16, 24 or 32 bytes (AES-128/192/256); HyperShift always uses 32.
 */
const IV_BYTES = 16;

export function aescbcPrefix(keyName: string): string {
  return `k8s:enc:aescbc:v1:${keyName}:`;
}

function cipherName(key: Uint8Array): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32)
    throw new RangeError(`an aescbc key is 16, 24 or 32 bytes, not ${key.length}`);
  return `aes-${key.length * 8}-cbc`;
}

/** The payload after the `k8s:enc:aescbc:v1:<name>:` prefix, decrypted; undefined when this key does not open it. */
export function aescbcDecrypt(key: Uint8Array, payload: Buffer): Buffer | undefined {
  if (payload.length < IV_BYTES * 2 || (payload.length - IV_BYTES) % IV_BYTES !== 0) return undefined;
  const decipher = createDecipheriv(cipherName(key), key, payload.subarray(0, IV_BYTES));
  try {
    return Buffer.concat([decipher.update(payload.subarray(IV_BYTES)), decipher.final()]);
  } catch {
    // Bad PKCS#7 padding: the wrong key, or damaged bytes.
    return undefined;
  }
}

/** A value as kube-apiserver's aescbc transformer writes it (prefix, random IV, ciphertext). */
export function aescbcEncrypt(key: Uint8Array, keyName: string, plain: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(cipherName(key), key, iv);
  return Buffer.concat([Buffer.from(aescbcPrefix(keyName), "latin1"), iv, cipher.update(plain), cipher.final()]);
}
