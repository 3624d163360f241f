import { readFile } from "node:fs/promises";
import { KEY_OBJECT } from "../../backup/hosted-keys.js";
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
 * How the caller reaches the key: the age identity that opens the backup's sealed copy, or the raw key
 * file a backup with `--key-to` wrote elsewhere (`<dir>/<label>/<backup-id>/encryption-key`).
 */
export type KeySource = { readonly identityFile: string } | { readonly keyFile: string };

/**
 * The aescbc key the restored kube-apiserver needs: opened from the backup's `encryption-key.age`
 * with the age identity and checked against the manifest's fingerprint. Every way it can be missing
 * or wrong is a block, because a restored cluster with another key cannot read a single Secret.
 */
export async function loadSavedKey(
  store: Store,
  manifest: Manifest,
  rendered: RenderedManifests,
  source: KeySource | undefined,
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
  const opened = await openSaved(store, enc.object, source, signal);
  if ("problem" in opened) return { checks: [block("key-material", opened.problem), ...extra] };
  const { key, from } = opened;
  const fp = keyFingerprint(key);
  if (fp !== active.fingerprint) {
    return {
      checks: [
        block(
          "key-fingerprint",
          `the key in ${from} has fingerprint ${fp.slice(0, 16)}…, the manifest records ${active.fingerprint.slice(0, 16)}…: it is not the key the snapshot's Secrets were encrypted with`,
        ),
        ...extra,
      ],
    };
  }
  return {
    key,
    checks: [
      pass("key-material", `read from ${from}`),
      pass("key-fingerprint", `${aescbcKeyName(key)}, SHA-256 ${fp.slice(0, 16)}… as the manifest records`),
      ...extra,
    ],
  };
}

async function openSaved(
  store: Store,
  sealedObject: string | undefined,
  source: KeySource | undefined,
  signal?: AbortSignal,
): Promise<{ key: Uint8Array; from: string } | { problem: string }> {
  if (source === undefined) {
    return {
      problem: sealedObject
        ? `the backup's key is sealed in ${sealedObject}: pass --key-identity <age identity file> to open it`
        : "the backup's key was saved raw with --key-to, outside the backup: pass --key-file <that store>/<label>/<backup-id>/encryption-key",
    };
  }
  if ("keyFile" in source) {
    try {
      return { key: await readFile(source.keyFile), from: source.keyFile };
    } catch (err) {
      return { problem: `cannot read --key-file ${source.keyFile}: ${describe(err)}` };
    }
  }
  const object = sealedObject ?? KEY_OBJECT;
  if (!(await store.exists(object, { signal }))) {
    return {
      problem: `${store.urlOf(object)} is missing: the store has no sealed key for this backup (saved with --key-to? then pass --key-file)`,
    };
  }
  let identity: string;
  try {
    identity = await readFile(source.identityFile, "utf8");
  } catch (err) {
    return { problem: `cannot read --key-identity ${source.identityFile}: ${describe(err)}` };
  }
  try {
    return { key: await openKey(await store.read(object, { signal }), identity), from: object };
  } catch (err) {
    return { problem: `${describe(err)} (is ${source.identityFile} the identity the backup was sealed to?)` };
  }
}
