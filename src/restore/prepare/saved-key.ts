import { readFile } from "node:fs/promises";
import { KEY_OBJECT } from "../../backup/hosted-backup.js";
import { describe } from "../../errors.js";
import { aescbcKeyName, keyFingerprint } from "../../hostedcluster/encryption-key.js";
import { openKey } from "../../hostedcluster/key-envelope.js";
import type { Manifest } from "../../store/manifest.js";
import type { Store } from "../../store/store.js";
import { block, type Check, pass, warn } from "./checks.js";
import type { RenderedManifests } from "./rendered.js";

export interface SavedKey {
  /** The key bytes, when they were found, opened and matched the manifest. */
  readonly key?: Uint8Array;
  readonly checks: readonly Check[];
}

/**
 * The aescbc key the restored kube-apiserver needs: opened from the backup's `encryption-key.age`
 * with the age identity and checked against the manifest's fingerprint. Every way it can be missing
 * or wrong is a block, because a restored cluster with another key cannot read a single Secret.
 */
export async function loadSavedKey(
  store: Store,
  manifest: Manifest,
  rendered: RenderedManifests,
  identityFile: string | undefined,
  signal?: AbortSignal,
): Promise<SavedKey> {
  const enc = manifest.encryption;
  if (enc?.type !== "aescbc") {
    const why = enc?.type === "kms" ? "the source used KMS: the key stays in KMS" : "the source had no aescbc key";
    return { checks: [pass("key-material", why)] };
  }
  const active = enc.keys[0];
  if (!active) {
    return {
      checks: [
        block(
          "key-material",
          "the backup holds no encryption key (taken with --no-key): a restore with any other key cannot read the cluster's Secrets",
        ),
      ],
    };
  }
  const extra: Check[] =
    enc.keys.length > 1
      ? [
          warn(
            "backup-key",
            "the source also had a backup key (a rotation in progress); only the active key is restored: Secrets still encrypted with the backup key stay unreadable",
          ),
        ]
      : [];
  if (!rendered.keySecret) {
    const name =
      rendered.hostedCluster.encryption.type === "aescbc" ? rendered.hostedCluster.encryption.activeKeySecret : "?";
    return {
      checks: [
        block(
          "key-material",
          `the rendered YAML has no Secret ${name} for the key: render with --render-sensitive (without it hcp drops every Secret)`,
        ),
        ...extra,
      ],
    };
  }
  if (identityFile === undefined) {
    return {
      checks: [
        block(
          "key-material",
          `the backup's key is sealed in ${enc.object ?? KEY_OBJECT}: pass --key-identity <age identity file> to open it`,
        ),
        ...extra,
      ],
    };
  }
  const object = enc.object ?? KEY_OBJECT;
  if (!(await store.exists(object, { signal }))) {
    return {
      checks: [
        block(
          "key-material",
          `${store.urlOf(object)} is missing: the backup's manifest names it but the store has no such object (saved elsewhere with --key-to?)`,
        ),
        ...extra,
      ],
    };
  }
  let identity: string;
  try {
    identity = await readFile(identityFile, "utf8");
  } catch (err) {
    return {
      checks: [block("key-material", `cannot read --key-identity ${identityFile}: ${describe(err)}`), ...extra],
    };
  }
  let key: Uint8Array;
  try {
    key = await openKey(await store.read(object, { signal }), identity);
  } catch (err) {
    return {
      checks: [
        block("key-material", `${describe(err)} (is ${identityFile} the identity the backup was sealed to?)`),
        ...extra,
      ],
    };
  }
  const fp = keyFingerprint(key);
  if (fp !== active.fingerprint) {
    return {
      checks: [
        block(
          "key-fingerprint",
          `the key in ${object} has fingerprint ${fp.slice(0, 16)}…, the manifest records ${active.fingerprint.slice(0, 16)}…: it is not the key the snapshot's Secrets were encrypted with`,
        ),
        ...extra,
      ],
    };
  }
  return {
    key,
    checks: [
      pass("key-material", `opened ${object} with ${identityFile}`),
      pass("key-fingerprint", `${aescbcKeyName(key)}, SHA-256 ${fp.slice(0, 16)}… as the manifest records`),
      ...extra,
    ],
  };
}
