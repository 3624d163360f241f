import { aescbcDecrypt } from "./aescbc.js";
import type { Keyring } from "./keyring.js";
import { isKubernetesValue, type StorageForm, storageForm } from "./storage-form.js";

/** A stored value opened to its plaintext, or why it cannot be: a missing key, KMS, damage. */
export type Opened =
  | { readonly ok: true; readonly plain: Buffer; readonly form: StorageForm["form"]; readonly keyName?: string }
  | {
      readonly ok: false;
      readonly form: StorageForm["form"];
      readonly why: "no-key" | "kms" | "damaged" | "unsupported";
      readonly keyName?: string;
      readonly provider?: string;
      readonly message: string;
    };

/**
 * Opens `value` with the keyring. `decrypt` deciphers an aescbc payload (undefined: the key does not
 * open it); the decryption proof passes one that deciphers only what decides that (AescbcHeads), and
 * its `plain` is then only the plaintext's first block.
 */
export function openValue(
  value: Buffer,
  keyring: Keyring | undefined,
  decrypt: (key: Uint8Array, payload: Buffer) => Buffer | undefined = aescbcDecrypt,
): Opened {
  const f = storageForm(value);
  switch (f.form) {
    case "protobuf":
    case "json":
      return { ok: true, plain: value, form: f.form };
    case "aescbc": {
      const key = keyring?.get(f.keyName);
      if (!key) {
        const held =
          keyring && keyring.size > 0 ? `the keys given are ${keyring.names.join(", ")}` : "no key was given";
        return {
          ok: false,
          form: f.form,
          why: "no-key",
          keyName: f.keyName,
          message: `encrypted with aescbc key ${f.keyName}, and ${held} (--key-identity, --key-file or --encryption-config)`,
        };
      }
      const plain = decrypt(key.key, f.payload);
      if (!plain || !isKubernetesValue(plain))
        return {
          ok: false,
          form: f.form,
          why: "damaged",
          keyName: f.keyName,
          message: `damaged: aescbc key ${f.keyName} does not open it (${plain ? "the plaintext is not a Kubernetes value" : "bad padding"})`,
        };
      return { ok: true, plain, form: f.form, keyName: f.keyName };
    }
    case "kms-v1":
    case "kms-v2":
      return {
        ok: false,
        form: f.form,
        why: "kms",
        provider: f.provider,
        message: `encrypted by KMS provider ${f.provider} (${f.form}): only that KMS provider can open it, not offline`,
      };
    case "secretbox":
      return {
        ok: false,
        form: f.form,
        why: "unsupported",
        keyName: f.keyName,
        message: `encrypted with secretbox key ${f.keyName}, which this tool does not decrypt`,
      };
    default:
      return {
        ok: false,
        form: f.form,
        why: "damaged",
        message: "damaged: not Kubernetes protobuf, JSON or a known encryption prefix",
      };
  }
}
