import { type Catalog, readCatalog } from "../store/catalog.js";
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

export interface PruneResult {
  readonly plan: RetentionPlan;
  readonly leftovers: Catalog["leftovers"];
  readonly abortedUploads: number;
  readonly deletedObjects: number;
  readonly dryRun: boolean;
}

/** Applies a retention policy: deletes backups it does not keep, manifest-less leftovers, stale multipart uploads. */
export async function prune(req: PruneRequest): Promise<PruneResult> {
  const signal = req.signal;
  const catalog = await readCatalog(req.store, { signal });
  const plan = planRetention(catalog.backups, req);
  const cutoff = new Date((req.now ?? new Date()).getTime() - (req.minAgeSeconds ?? 3600) * 1000);
  const leftovers = catalog.leftovers.filter((l) => l.newest < cutoff);
  if (req.dryRun) return { plan, leftovers, abortedUploads: 0, deletedObjects: 0, dryRun: true };
  const keys: string[] = [];
  for (const b of plan.remove) {
    // Manifest first: a half-deleted backup must look like a leftover, never like a good backup.
    await req.store.delete([`${b.folder}/manifest.json`], { signal });
    for await (const o of req.store.list(b.folder, { signal })) keys.push(o.key);
  }
  for (const l of leftovers) keys.push(...l.keys);
  await req.store.delete(keys, { signal });
  const abortedUploads = await req.store.abortIncomplete("", cutoff, { signal });
  return { plan, leftovers, abortedUploads, deletedObjects: keys.length + plan.remove.length, dryRun: false };
}
