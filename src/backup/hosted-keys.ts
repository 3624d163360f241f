import { LISTED_KEY_PREFIX } from "../encryption/key-objects.js";
import type { AescbcKey } from "../encryption/keyring.js";
import { UsageError } from "../errors.js";
import {
  type HostedClusterTarget,
  type ListedKeys,
  readEncryptionKeys,
  readListedEncryptionKeys,
} from "../hostedcluster/discovery.js";
import { aescbcKeyName, keyFingerprint } from "../hostedcluster/encryption-key.js";
import { sealKey } from "../hostedcluster/key-envelope.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import { type Logger, silentLogger } from "../logging.js";
import type { EncryptionFacts } from "../store/manifest.js";
import type { Store } from "../store/store.js";

export const KEY_OBJECT = "encryption-key.age";
export const RAW_KEY_OBJECT = "encryption-key";

/** Where the aescbc key goes: sealed to age recipients beside the snapshot, raw (0600) into another store, or nowhere. */
export type KeyDestination =
  | { readonly kind: "recipients"; readonly recipients: readonly string[] }
  | { readonly kind: "store"; readonly store: Store }
  | { readonly kind: "none" };

/** What the key handling of one hosted cluster's backup needs to know. */
export interface KeyRequest {
  readonly cluster: ManagementCluster;
  /** The backup store: sealed keys go beside the snapshot; a raw key must go elsewhere. */
  readonly store: Store;
  readonly key: KeyDestination;
  /**
   * Refuse an aescbc cluster whose key has no destination, before any change (true unless the
   * user said --no-key): a backup without its key cannot be restored.
   */
  readonly keyRequired?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** The key, read and sealed before anything changes, and where its files go. */
export interface PreparedKeys {
  readonly facts: EncryptionFacts | undefined;
  /** What to write, and where: sealed files beside the snapshot, or raw files into the --key-to store. */
  readonly files: ReadonlyArray<{ readonly object: string; readonly bytes: Buffer }>;
  readonly into?: Store;
}

/** Refuses, in one line, an aescbc cluster whose key has nowhere to go (unless --no-key said so). */
export function requireKeyDestination(req: KeyRequest, t: HostedClusterTarget, label: string, logger: Logger): void {
  if (t.encryption.type !== "aescbc" || req.key.kind !== "none") return;
  if (req.keyRequired !== false)
    throw new UsageError(
      `${label} encrypts its secrets with aescbc: say where its key goes (--key-recipient age1... or --key-to DIR), or --no-key to back up without it`,
    );
  logger.warn(
    { cluster: label },
    "the encryption key is not saved (--no-key): this backup restores only with the key kept elsewhere",
  );
}

/** A --key-to store must answer, and must not be the backup store or lie inside it. */
export async function checkKeyStore(req: KeyRequest): Promise<void> {
  if (req.key.kind !== "store") return;
  if (sameOrNested(req.key.store.url, req.store.url))
    throw new UsageError(
      `--key-to ${req.key.store.url} is the backup store (or inside it): the raw key must go elsewhere`,
    );
  await req.key.store.check({ signal: req.signal });
}

/** True when one store URL/path is the other or lies inside it. */
function sameOrNested(a: string, b: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/, "");
  const [x, y] = [norm(a), norm(b)];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
}

/** The plan's line for the key. */
export function keyStep(req: KeyRequest, t: HostedClusterTarget): string {
  if (t.encryption.type === "kms") return "record the KMS key (the key itself stays in KMS)";
  if (t.encryption.type === "none") return "no secret encryption configured: no key to save";
  if (req.key.kind === "recipients")
    return `save the aescbc key encrypted to ${req.key.recipients.length} age recipient(s)`;
  if (req.key.kind === "store") return `save the aescbc key (0600) into ${req.key.store.url}`;
  return "do not save the aescbc key (--no-key)";
}

/**
 * `encryption-key[.age]` for the active key, `encryption-key-backup[.age]` for the backup key,
 * `encryption-key-listed-<name>[.age]` for a key only the EncryptionConfiguration lists: its name
 * there is the one its values carry, so the file keeps it (URI-encoded: any name is a safe object key).
 */
function keyObject(role: "active" | "backup" | { listed: string }, sealed: boolean): string {
  const base =
    role === "active"
      ? RAW_KEY_OBJECT
      : role === "backup"
        ? `${RAW_KEY_OBJECT}-backup`
        : `${LISTED_KEY_PREFIX}${encodeURIComponent(role.listed)}`;
  return sealed ? `${base}.age` : base;
}

/**
 * The keys the EncryptionConfiguration lists that the HostedCluster's Secrets did not give (by the
 * name values carry: that is what a restore must match). Nothing to add when the Secret is absent
 * (HyperShift before it rendered one) or this Role may not read it (a schedule rendered before the
 * backup read it): the active and backup keys are still saved, and the logs say which case it was.
 */
function listedOnly(listed: ListedKeys, saved: ReadonlySet<string>, label: string, logger: Logger): AescbcKey[] {
  if (!listed.read) {
    if (listed.why === "missing")
      logger.debug(
        { cluster: label, secret: listed.secret },
        "no EncryptionConfiguration Secret (older HyperShift): saving the keys the HostedCluster names",
      );
    else
      logger.warn(
        { cluster: label, secret: listed.secret, error: listed.detail },
        "RBAC: may not read the control plane's EncryptionConfiguration, so keys of a rotation in progress are not saved; render the schedule again so its Role grants it",
      );
    return [];
  }
  const out = new Map<string, AescbcKey>();
  for (const k of listed.keys) if (!saved.has(k.name) && !out.has(k.name)) out.set(k.name, k);
  if (out.size > 0)
    logger.info(
      { cluster: label, keys: [...out.keys()], secret: listed.secret },
      "saving the aescbc keys a rotation in progress still reads",
    );
  return [...out.values()];
}

/** Reads the cluster's keys and seals them (or not, for --key-to): a backup that cannot save them stops here. */
export async function prepareKeys(req: KeyRequest, t: HostedClusterTarget): Promise<PreparedKeys> {
  const e = t.encryption;
  if (e.type === "none") return { facts: undefined, files: [] };
  if (e.type === "kms") {
    return {
      facts: {
        type: "kms",
        secretNames: [],
        keys: [],
        kms: e.arn && e.region ? { arn: e.arn, region: e.region } : undefined,
      },
      files: [],
    };
  }
  if (req.key.kind === "none") {
    return {
      facts: { type: "aescbc", secretNames: e.secrets.map((s) => `${t.namespace}/${s.name}`), keys: [] },
      files: [],
    };
  }
  const keys = await readEncryptionKeys(req.cluster, t, req.signal);
  if (!keys.some((k) => k.role === "active"))
    throw new UsageError(`no active encryption key for ${t.namespace}/${t.name}`);
  const label = `${t.namespace}/${t.name}`;
  const listed = await readListedEncryptionKeys(req.cluster, t, req.signal);
  const extra = listedOnly(listed, new Set(keys.map((k) => aescbcKeyName(k.key))), label, req.logger ?? silentLogger());
  const sealed = req.key.kind === "recipients";
  const facts: EncryptionFacts = {
    type: "aescbc",
    secretNames: [...keys.map((k) => `${t.namespace}/${k.secret}`), ...(extra.length > 0 ? [listed.secret] : [])],
    keys: [
      ...keys.map((k) => ({ fingerprint: keyFingerprint(k.key), keyName: aescbcKeyName(k.key) })),
      ...extra.map((k) => ({ fingerprint: keyFingerprint(k.key), keyName: k.name })),
    ],
    object: sealed ? KEY_OBJECT : undefined,
  };
  const seal = async (key: Buffer) =>
    req.key.kind === "recipients" ? Buffer.from(await sealKey(key, req.key.recipients)) : key;
  const files = [];
  for (const k of keys) files.push({ object: keyObject(k.role, sealed), bytes: await seal(k.key) });
  for (const k of extra) files.push({ object: keyObject({ listed: k.name }, sealed), bytes: await seal(k.key) });
  return { facts, files, into: req.key.kind === "store" ? req.key.store : req.store };
}

/** Writes the key files before the manifest: a backup whose key could not be saved is never committed. */
export async function storeKeys(
  keys: PreparedKeys,
  folder: string,
  signal?: AbortSignal,
): Promise<EncryptionFacts | undefined> {
  for (const f of keys.files) {
    await keys.into?.put(`${folder}/${f.object}`, f.bytes, { contentType: "application/octet-stream", signal });
  }
  return keys.facts;
}
