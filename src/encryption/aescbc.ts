import { createCipheriv, createDecipheriv, type Decipher, randomBytes } from "node:crypto";

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

/**
 * Whether a key opens aescbc payloads, read from the two blocks that decide it rather than all of
 * them: the first block of plaintext (what kind of value it is) and the last (its PKCS#7 padding).
 * In CBC each block deciphers on its own (D(block) xor the block before it), so this is the verdict
 * of aescbcDecrypt for every payload of three blocks or more, at a fixed cost per value instead of
 * one per byte. One ECB decipher per key serves every value: without padding it keeps no state.
 */
export class AescbcHeads {
  private readonly ecb = new Map<Uint8Array, Decipher>();

  /**
   * The plaintext's first block when the padding is valid, else undefined. A short payload, or one
   * whose first block is all whitespace (where a JSON value's `{` would be later), is deciphered whole.
   */
  head(key: Uint8Array, payload: Buffer): Buffer | undefined {
    const n = payload.length;
    if (n < IV_BYTES * 4 || (n - IV_BYTES) % IV_BYTES !== 0) return aescbcDecrypt(key, payload);
    let ecb = this.ecb.get(key);
    if (!ecb) {
      ecb = createDecipheriv(cipherName(key).replace("-cbc", "-ecb"), key, null).setAutoPadding(false);
      this.ecb.set(key, ecb);
    }
    const d = ecb.update(Buffer.concat([payload.subarray(IV_BYTES, 2 * IV_BYTES), payload.subarray(n - IV_BYTES)]));
    const first = Buffer.allocUnsafe(IV_BYTES);
    const last = Buffer.allocUnsafe(IV_BYTES);
    for (let i = 0; i < IV_BYTES; i++) {
      first[i] = (d[i] as number) ^ (payload[i] as number);
      last[i] = (d[IV_BYTES + i] as number) ^ (payload[n - 2 * IV_BYTES + i] as number);
    }
    const pad = last[IV_BYTES - 1] as number;
    if (pad < 1 || pad > IV_BYTES) return undefined;
    for (let i = IV_BYTES - pad; i < IV_BYTES; i++) if (last[i] !== pad) return undefined;
    if (first.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) return aescbcDecrypt(key, payload);
    return first;
  }
}

/** A value as kube-apiserver's aescbc transformer writes it (prefix, random IV, ciphertext). */
export function aescbcEncrypt(key: Uint8Array, keyName: string, plain: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(cipherName(key), key, iv);
  return Buffer.concat([Buffer.from(aescbcPrefix(keyName), "latin1"), iv, cipher.update(plain), cipher.final()]);
}
