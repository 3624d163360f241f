import { type BackupEntry, type Catalog, readCatalog } from "../store/catalog.js";
import { DELTAS_DIR } from "../store/layout.js";
import { MANIFEST_FILE } from "../store/manifest.js";
import { isLocked, type ObjectLockState } from "../store/object-lock.js";
import { planRetention, type RetentionPlan, type RetentionPolicy } from "../store/retention.js";
import type { Store } from "../store/store.js";

export interface PruneRequest extends RetentionPolicy {
  readonly store: Store;
  readonly dryRun?: boolean;
  /** Leftovers and incomplete uploads younger than this are left alone: they may be a backup in progress. */
  readonly minAgeSeconds?: number;
  readonly now?: Date;
  readonly signal?: AbortSignal;
}

/** A backup or leftover the plan would remove but S3 Object Lock protects: left whole, and said why. */
export interface LockedFolder {
  readonly folder: string;
  readonly ref: string;
  /** The lock that lasts longest among its objects. */
  readonly lock: ObjectLockState;
}

export interface PruneResult {
  readonly plan: RetentionPlan;
  /** Backups of `plan.remove` that were (or, in a dry run, would be) deleted. */
  readonly removed: readonly BackupEntry[];
  readonly leftovers: Catalog["leftovers"];
  /** Backups and leftovers kept because some of their objects are locked. */
  readonly locked: readonly LockedFolder[];
  readonly abortedUploads: number;
  readonly deletedObjects: number;
  readonly dryRun: boolean;
}

/**
 * Applies a retention policy: deletes backups it does not keep, manifest-less leftovers, stale
 * multipart uploads. A folder with any object under S3 Object Lock is left whole and reported: its
 * versions cannot be deleted before their date, and on a versioned bucket a plain delete would only
 * hide the backup behind delete markers (gone from `list`, still stored, still paid for).
 */
export async function prune(req: PruneRequest): Promise<PruneResult> {
  const signal = req.signal;
  const now = req.now ?? new Date();
  const catalog = await readCatalog(req.store, { signal });
  const cutoff = new Date(now.getTime() - (req.minAgeSeconds ?? 3600) * 1000);
  const plan = keepChainsBeingWritten(planRetention(catalog.backups, req), cutoff);
  const locked: LockedFolder[] = [];
  const removed: Array<{ entry: BackupEntry; keys: string[] }> = [];
  for (const entry of plan.remove) {
    const keys: string[] = [];
    for await (const o of req.store.list(entry.folder, { signal })) keys.push(o.key);
    const lock = await strongestLock(req.store, keys, now, signal);
    if (lock) locked.push({ folder: entry.folder, ref: entry.ref, lock });
    else removed.push({ entry, keys });
  }
  const leftovers: Array<Catalog["leftovers"][number]> = [];
  for (const l of catalog.leftovers.filter((x) => x.newest < cutoff)) {
    const lock = await strongestLock(req.store, l.keys, now, signal);
    if (lock) locked.push({ folder: l.folder, ref: req.store.urlOf(l.folder), lock });
    else leftovers.push(l);
  }
  const result = { plan, removed: removed.map((r) => r.entry), leftovers, locked };
  if (req.dryRun) return { ...result, abortedUploads: 0, deletedObjects: 0, dryRun: true };
  // Manifests first: a half-deleted backup must look like a leftover, never like a good backup. Then
  // a continuous backup's delta segments, then the rest: a segment never outlives its full snapshot,
  // and a prune stopped half way leaves a leftover that the next one removes.
  const manifests = removed.map((r) => `${r.entry.folder}/${MANIFEST_FILE}`);
  for (const m of manifests) await req.store.delete([m], { signal });
  // From the folder's listing, not the catalog's: it also holds a segment committed in between.
  const deltas = removed.flatMap((r) => r.keys.filter((k) => k.startsWith(`${r.entry.folder}/${DELTAS_DIR}/`)));
  await req.store.delete(deltas, { signal });
  const gone = new Set([...manifests, ...deltas]);
  const rest = [...removed.flatMap((r) => r.keys.filter((k) => !gone.has(k))), ...leftovers.flatMap((l) => l.keys)];
  await req.store.delete(rest, { signal });
  const abortedUploads = await req.store.abortIncomplete("", cutoff, { signal });
  return { ...result, abortedUploads, deletedObjects: manifests.length + deltas.length + rest.length, dryRun: false };
}

/**
 * A continuous backup whose newest segment is younger than the cutoff is kept whatever the policy:
 * its writer may still be appending, and segments committed after the delete would be orphans (a
 * folder without its base, which only the next prune would clear as a leftover).
 */
function keepChainsBeingWritten(plan: RetentionPlan, cutoff: Date): RetentionPlan {
  const writing = (e: BackupEntry) => (e.deltas ?? []).some((d) => d.lastModified >= cutoff);
  return {
    keep: [...plan.keep, ...plan.remove.filter(writing).map((entry) => ({ entry, reasons: ["chain being written"] }))],
    remove: plan.remove.filter((e) => !writing(e)),
  };
}

/** The lock among `keys` that holds longest (a legal hold beats any date); undefined when none holds now. */
async function strongestLock(
  store: Store,
  keys: readonly string[],
  now: Date,
  signal: AbortSignal | undefined,
): Promise<ObjectLockState | undefined> {
  let strongest: ObjectLockState | undefined;
  for (const key of keys) {
    const lock = await store.lockOf(key, { signal });
    if (!lock || !isLocked(lock, now)) continue;
    if (
      !strongest ||
      (lock.legalHold && !strongest.legalHold) ||
      (lock.legalHold === strongest.legalHold &&
        (lock.retainUntil?.getTime() ?? 0) > (strongest.retainUntil?.getTime() ?? 0))
    )
      strongest = lock;
  }
  return strongest;
}
