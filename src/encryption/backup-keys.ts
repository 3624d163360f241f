import { readFile } from "node:fs/promises";
import { RAW_KEY_OBJECT } from "../backup/hosted-keys.js";
import { describe, UsageError } from "../errors.js";
import { openKey } from "../hostedcluster/key-envelope.js";
import type { Store } from "../store/store.js";
import { listedKeyName } from "./key-objects.js";
import { hypershiftKey, Keyring } from "./keyring.js";

/**
 * `--key-identity`: every key a hosted backup saved beside its snapshot, sealed to age recipients
 * (`encryption-key.age`, `encryption-key-backup.age` when there was a backup key, and
 * `encryption-key-listed-<name>.age` for each key a rotation in progress still read), opened with
 * the identity file. A listed key goes by the name the EncryptionConfiguration gave it (what its
 * values carry); the others by HyperShift's name for their bytes. A wrong identity is a
 * VerificationError from openKey.
 */
export async function keyringFromBackup(store: Store, identityFile: string, signal?: AbortSignal): Promise<Keyring> {
  let identity: string;
  try {
    identity = await readFile(identityFile, "utf8");
  } catch (err) {
    throw new UsageError(`--key-identity ${identityFile}: cannot read it: ${describe(err)}`);
  }
  const names = await sealedKeyObjects(store, signal);
  if (names.length === 0)
    throw new UsageError(
      `${store.url} holds no sealed encryption key (${RAW_KEY_OBJECT}.age): it was backed up without --key-recipient; use --key-file with the key saved by --key-to`,
    );
  const ring = new Keyring();
  for (const name of names) {
    const sealed = await store.read(name, { signal });
    const key = Buffer.from(await openKey(sealed, identity));
    const listed = listedKeyName(name);
    const source = `${store.url}/${name}`;
    ring.add(listed === undefined ? hypershiftKey(key, source) : { name: listed, key, source });
  }
  return ring;
}

/** The sealed key objects beside a backup's snapshot (`encryption-key*.age`), in name order. */
export async function sealedKeyObjects(store: Store, signal?: AbortSignal): Promise<string[]> {
  const names: string[] = [];
  for await (const o of store.list("", { signal }))
    if (o.key.startsWith(RAW_KEY_OBJECT) && o.key.endsWith(".age")) names.push(o.key);
  return names.sort();
}
