import { readCatalog } from "../store/catalog.js";
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
  return {
    rows: fleetFreshness(catalog.backups, { ...policy, now: policy.now ?? new Date() }),
    broken: catalog.broken,
  };
}
