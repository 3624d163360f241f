import { type LiveKey, liveKeys } from "./keys.js";

export interface KeyChange {
  readonly key: Buffer;
  readonly before: LiveKey;
  readonly after: LiveKey;
  /** What differs: the value, the lease, or only the revision (rewritten with the same value). */
  readonly what: ReadonlyArray<"value" | "lease" | "revision">;
}

export interface SnapshotDiff {
  readonly added: readonly LiveKey[];
  readonly removed: readonly LiveKey[];
  readonly changed: readonly KeyChange[];
  readonly unchanged: number;
}

const byKey = (a: { key: Buffer }, b: { key: Buffer }) => Buffer.compare(a.key, b.key);

/** Keys added, removed and changed from snapshot `a` to snapshot `b`, compared by value hash. */
export function diffSnapshots(a: string, b: string, options: { prefix?: Buffer } = {}): SnapshotDiff {
  const before = liveKeys(a, options);
  const after = liveKeys(b, options);
  const added: LiveKey[] = [];
  const removed: LiveKey[] = [];
  const changed: KeyChange[] = [];
  let unchanged = 0;
  for (const [name, old] of before) {
    const now = after.get(name);
    if (!now) {
      removed.push(old);
      continue;
    }
    const what: Array<"value" | "lease" | "revision"> = [];
    if (old.valueHash !== now.valueHash) what.push("value");
    if (old.lease !== now.lease) what.push("lease");
    if (old.modRevision !== now.modRevision) what.push("revision");
    if (what.length > 0) changed.push({ key: now.key, before: old, after: now, what });
    else unchanged++;
  }
  for (const [name, now] of after) if (!before.has(name)) added.push(now);
  return { added: added.sort(byKey), removed: removed.sort(byKey), changed: changed.sort(byKey), unchanged };
}
