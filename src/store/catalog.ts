import { allowListeners, mapBounded } from "../concurrency.js";
import { DELTAS_DIR, parseBackupId } from "./layout.js";
import { lastVerification, MANIFEST_FILE, type Manifest, parseManifest, SNAPSHOT_FILE } from "./manifest.js";
import type { Store } from "./store.js";

export interface BackupEntry {
  /** The backup's ref: the URL (or path) of its folder. */
  readonly ref: string;
  /** Folder key relative to the store root (`<label>/<id>`). */
  readonly folder: string;
  readonly manifest: Manifest;
  /** The newest verification succeeded (the backup's own counts: bytes checked while it was taken). */
  readonly verified: boolean;
  /**
   * Objects of the delta segments of a continuous backup (`<folder>/deltas/...`), committed or not;
   * absent or empty for a backup that has none. `src/continuous/window.ts` reads a chain from them.
   */
  readonly deltas?: readonly DeltaObject[];
}

export interface DeltaObject {
  readonly key: string;
  readonly lastModified: Date;
}

export interface Leftover {
  readonly folder: string;
  readonly keys: readonly string[];
  readonly newest: Date;
}

export interface Catalog {
  /** Backups with a valid manifest, newest first. */
  readonly backups: readonly BackupEntry[];
  /** Folders with objects but no manifest: interrupted or failed backups (or one in progress). */
  readonly leftovers: readonly Leftover[];
  /** Manifests that could not be read (each a one-line reason). */
  readonly broken: ReadonlyArray<{ folder: string; reason: string }>;
}

/** Manifest reads in flight at once: enough to hide S3's per-request latency, few enough to be polite. */
const MANIFEST_READS = 16;

const folderOf = (key: string) => key.slice(0, key.lastIndexOf("/"));
const nameOf = (folder: string) => folder.slice(folder.lastIndexOf("/") + 1);

/**
 * The backup folder an object belongs to: its parent, or its grandparent for a delta segment
 * (`<label>/<id>/deltas/<range>.seg`), so that segments count with their base: pruned with it, and a
 * folder left with segments alone is a leftover, never an invisible orphan. Undefined: not ours.
 */
function backupFolderOf(key: string): string | undefined {
  if (!key.includes("/")) return undefined;
  const parent = folderOf(key);
  if (parseBackupId(nameOf(parent))) return parent;
  if (nameOf(parent) !== DELTAS_DIR || !parent.includes("/")) return undefined;
  const grandparent = folderOf(parent);
  return parseBackupId(nameOf(grandparent)) ? grandparent : undefined;
}

/** Everything the store holds under its root, grouped by backup folder. A backup without a manifest does not exist. */
export async function readCatalog(
  store: Store,
  options: { label?: string; signal?: AbortSignal; concurrency?: number } = {},
): Promise<Catalog> {
  const folders = new Map<string, Array<{ key: string; lastModified: Date }>>();
  const signal = options.signal;
  for await (const o of store.list(options.label ?? "", { signal })) {
    const f = backupFolderOf(o.key);
    if (f === undefined) continue; // not one of ours
    const list = folders.get(f) ?? [];
    list.push({ key: o.key, lastModified: o.lastModified });
    folders.set(f, list);
  }
  const backups: BackupEntry[] = [];
  const leftovers: Leftover[] = [];
  const broken: Array<{ folder: string; reason: string }> = [];
  const committed: Array<[string, Array<{ key: string; lastModified: Date }>]> = [];
  for (const [folder, objects] of folders) {
    if (objects.some((o) => o.key === `${folder}/${MANIFEST_FILE}`)) committed.push([folder, objects]);
    else
      leftovers.push({
        folder,
        keys: objects.map((o) => o.key),
        newest: new Date(Math.max(...objects.map((o) => o.lastModified.getTime()))),
      });
  }
  // One manifest is one small request; a fleet's store holds thousands, so they are read a few at a time.
  const reads = options.concurrency ?? MANIFEST_READS;
  allowListeners(signal, reads);
  await mapBounded(committed, reads, async ([folder, objects]) => {
    if (!objects.some((o) => o.key === `${folder}/${SNAPSHOT_FILE}`)) {
      broken.push({ folder, reason: "manifest present but snapshot.db missing" });
      return;
    }
    try {
      const manifest = parseManifest(
        await store.read(`${folder}/${MANIFEST_FILE}`, { signal }),
        store.urlOf(`${folder}/${MANIFEST_FILE}`),
      );
      const deltaPrefix = `${folder}/${DELTAS_DIR}/`;
      const deltas = objects.filter((o) => o.key.startsWith(deltaPrefix));
      backups.push({
        ref: store.urlOf(folder),
        folder,
        manifest,
        verified: lastVerification(manifest)?.ok === true,
        ...(deltas.length > 0 ? { deltas } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      broken.push({ folder, reason: err instanceof Error ? err.message : String(err) });
    }
  });
  broken.sort((a, b) => a.folder.localeCompare(b.folder));
  backups.sort((a, b) =>
    a.manifest.createdAt < b.manifest.createdAt ? 1 : a.manifest.createdAt > b.manifest.createdAt ? -1 : 0,
  );
  return { backups, leftovers, broken };
}

/**
 * Whether `id` is the newest committed backup of `label` under `root`: what a cluster's freshness
 * and verification metrics speak about (verifying an older backup says nothing about the newest).
 */
export async function isNewestBackup(root: Store, label: string, id: string, signal?: AbortSignal): Promise<boolean> {
  const { backups } = await readCatalog(root, { label, ...(signal ? { signal } : {}) });
  return backups.find((b) => b.manifest.label === label)?.manifest.backupId === id;
}
