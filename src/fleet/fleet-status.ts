import { chainWindows } from "../continuous/window.js";
import { type BackupEntry, readCatalog } from "../store/catalog.js";
import type { Store } from "../store/store.js";
import { type ClusterFreshness, type FreshnessPolicy, fleetFreshness } from "./freshness.js";

export interface FleetStatus {
  readonly rows: readonly ClusterFreshness[];
  /** Manifests that could not be read: they count for no cluster, and the caller should say so. */
  readonly broken: ReadonlyArray<{ folder: string; reason: string }>;
}

/** Reads every manifest in the store (a bounded number at once) and judges each backup series. */
export async function readFleetStatus(
  store: Store,
  policy: Omit<FreshnessPolicy, "now"> & { now?: Date },
  options: { signal?: AbortSignal } = {},
): Promise<FleetStatus> {
  const catalog = await readCatalog(store, { signal: options.signal });
  // Only the newest backup of each cluster speaks for its recovery point: one record read per chain.
  const newest = new Map<string, BackupEntry>();
  for (const b of catalog.backups) if (!newest.has(b.manifest.label)) newest.set(b.manifest.label, b);
  const windows = await chainWindows(store, [...newest.values()], options.signal);
  const backups = catalog.backups.map((b) => {
    const chain = windows.get(b.folder);
    return chain ? { ...b, chain } : b;
  });
  return {
    rows: fleetFreshness(backups, { ...policy, now: policy.now ?? new Date() }),
    broken: catalog.broken,
  };
}
