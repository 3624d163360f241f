import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { KEY_OBJECT, RAW_KEY_OBJECT } from "../../backup/hosted-keys.js";
import { sealedKeyObjects } from "../../encryption/backup-keys.js";
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
  /**
   * A second saved key the snapshot's values need (the source's backup key, or a key a rotation in
   * progress still listed), for the HostedCluster's `backupKey`: HyperShift gives kube-apiserver both.
   */
  readonly backupKey?: { readonly key: Uint8Array; readonly secretName: string };
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
  if (!rendered.keySecret) {
    const name =
      rendered.hostedCluster.encryption.type === "aescbc" ? rendered.hostedCluster.encryption.activeKeySecret : "?";
    return {
      checks: [
        block(
          "key-material",
          `the rendered YAML has no Secret ${name} for the key: render with --render-sensitive (without it hcp drops every Secret)`,
        ),
      ],
    };
  }
  if (source === undefined) return { checks: [block("key-material", howToOpen(enc.object))] };
  const opened = await openSaved(store, enc.object, source, signal);
  if ("problem" in opened) return { checks: [block("key-material", opened.problem)] };
  const { key, from } = opened;
  const fp = keyFingerprint(key);
  if (fp !== active.fingerprint) {
    return {
      checks: [
        block(
          "key-fingerprint",
          `the key in ${from} has fingerprint ${fp.slice(0, 16)}…, the manifest records ${active.fingerprint.slice(0, 16)}…: it is not the key the snapshot's Secrets were encrypted with`,
        ),
      ],
    };
  }
  const activeSecret = rendered.keySecret.name;
  const second = await loadSecondKey(store, manifest, rendered, activeSecret, source, signal);
  return {
    key,
    ...(second.backupKey ? { backupKey: second.backupKey } : {}),
    checks: [
      pass("key-material", `read from ${from}`),
      pass("key-fingerprint", `${aescbcKeyName(key)}, SHA-256 ${fp.slice(0, 16)}… as the manifest records`),
      ...second.checks,
    ],
  };
}

/**
 * The source's other keys (its backup key, keys a rotation in progress still listed): a HostedCluster
 * holds one more key besides the active one, so the one the snapshot's values use most goes there
 * (by the manifest's decryption proof when `verify --key-identity` recorded one; else the backup key
 * first). A key is only restorable under the name its values carry, and HyperShift names a key by
 * its bytes; every key left out is said, with the values that stay unreadable when that is known.
 */
async function loadSecondKey(
  store: Store,
  manifest: Manifest,
  rendered: RenderedManifests,
  activeSecret: string,
  source: KeySource,
  signal?: AbortSignal,
): Promise<Pick<SavedKey, "backupKey" | "checks">> {
  const others = manifest.encryption?.keys.slice(1) ?? [];
  if (others.length === 0) return { checks: [] };
  const files = await openOtherKeys(store, source, signal);
  const proof = [...manifest.verifications].reverse().find((v) => v.decryption)?.decryption;
  const uses = (keyName: string): number | undefined =>
    proof
      ? (proof.opened[keyName] ?? 0) + (proof.missingKeys[keyName]?.count ?? 0) + (proof.damaged[keyName]?.count ?? 0)
      : undefined;
  const candidates = others.map((k) => {
    const bytes = files.keys.get(k.fingerprint);
    const why =
      bytes === undefined
        ? `no saved copy could be opened${files.problem ? ` (${files.problem})` : ""}`
        : aescbcKeyName(bytes) !== k.keyName
          ? `its values carry the name ${k.keyName}, and HyperShift would name it ${aescbcKeyName(bytes)}`
          : undefined;
    return { ...k, bytes, why, uses: uses(k.keyName) };
  });
  const needed = candidates.filter((c) => c.uses !== 0);
  const pick = needed
    .filter((c) => c.why === undefined)
    .sort((a, b) => (b.uses ?? 0) - (a.uses ?? 0))
    .at(0);
  const e = rendered.hostedCluster.encryption;
  const secretName = (e.type === "aescbc" ? e.backupKeySecret : undefined) ?? `${activeSecret}-backup`;
  const valuesUnder = (n: number | undefined) =>
    n === undefined ? "values still encrypted with it stay unreadable" : `${n} value(s) under it stay unreadable`;
  const checks: Check[] = [];
  for (const c of candidates) {
    if (c === pick)
      checks.push(
        pass(
          "backup-key",
          `${c.keyName} restored as the HostedCluster's backupKey (Secret ${rendered.hostedCluster.namespace}/${secretName})${c.uses === undefined ? "" : `: ${c.uses} value(s) in the snapshot use it`}`,
        ),
      );
    else if (c.uses === 0)
      checks.push(pass("backup-key", `${c.keyName} not restored: no value in the snapshot uses it (decryption proof)`));
    else
      checks.push(
        warn(
          "backup-key",
          `${c.keyName} is not restored (${c.why ?? "a HostedCluster holds one key besides the active one"}): ${valuesUnder(c.uses)}`,
        ),
      );
  }
  return pick?.bytes ? { backupKey: { key: pick.bytes, secretName }, checks } : { checks };
}

/**
 * Every saved key besides the active one, by fingerprint: the sealed `encryption-key-*.age` objects
 * beside the snapshot, or the raw `encryption-key-*` files beside the `--key-file` a `--key-to`
 * backup wrote (the same folder holds all of that backup's keys).
 */
async function openOtherKeys(
  store: Store,
  source: KeySource,
  signal?: AbortSignal,
): Promise<{ keys: Map<string, Uint8Array>; problem?: string }> {
  const keys = new Map<string, Uint8Array>();
  const problems: string[] = [];
  // One file that cannot be read or opened leaves the others usable.
  const add = async (name: string, read: () => Promise<Uint8Array>) => {
    try {
      const key = await read();
      keys.set(keyFingerprint(key), key);
    } catch (err) {
      problems.push(`${name}: ${describe(err)}`);
    }
  };
  try {
    if ("keyFile" in source) {
      const dir = dirname(source.keyFile);
      for (const f of await readdir(dir)) {
        if (!f.startsWith(`${RAW_KEY_OBJECT}-`) || f.endsWith(".age") || f === basename(source.keyFile)) continue;
        await add(f, () => readFile(join(dir, f)));
      }
    } else {
      const identity = await readFile(source.identityFile, "utf8");
      for (const name of await sealedKeyObjects(store, signal)) {
        if (name === KEY_OBJECT) continue;
        await add(name, async () => openKey(await store.read(name, { signal }), identity));
      }
    }
  } catch (err) {
    problems.push(describe(err));
  }
  return problems.length > 0 ? { keys, problem: problems.join("; ") } : { keys };
}

function howToOpen(sealedObject: string | undefined): string {
  return sealedObject
    ? `the backup's key is sealed in ${sealedObject}: pass --key-identity <age identity file> to open it`
    : "the backup's key was saved raw with --key-to, outside the backup: pass --key-file <that store>/<label>/<backup-id>/encryption-key";
}

async function openSaved(
  store: Store,
  sealedObject: string | undefined,
  source: KeySource,
  signal?: AbortSignal,
): Promise<{ key: Uint8Array; from: string } | { problem: string }> {
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
