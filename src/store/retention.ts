import { UsageError } from "../errors.js";
import type { BackupEntry } from "./catalog.js";

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
}

export interface RetentionPlan {
  readonly keep: ReadonlyArray<{ entry: BackupEntry; reasons: string[] }>;
  readonly remove: readonly BackupEntry[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/**
 * Which backups a policy keeps, per label (pure: no I/O). Newest first within each rule: the last N,
 * the newest of each of the last N days, the newest of each of the last N ISO weeks. The newest
 * verified backup of each label is always kept, whatever the rules say.
 */
export function planRetention(backups: readonly BackupEntry[], policy: RetentionPolicy): RetentionPlan {
  const rules = [policy.keepLast, policy.keepDaily, policy.keepWeekly];
  if (rules.every((r) => r === undefined)) {
    throw new UsageError("prune needs a policy: --keep-last N, --keep-daily N and/or --keep-weekly N");
  }
  for (const r of rules)
    if (r !== undefined && (!Number.isInteger(r) || r < 0))
      throw new UsageError(`keep counts must be whole numbers >= 0, got ${r}`);
  const reasons = new Map<BackupEntry, string[]>();
  const mark = (e: BackupEntry, why: string) => reasons.set(e, [...(reasons.get(e) ?? []), why]);
  const byLabel = new Map<string, BackupEntry[]>();
  for (const b of backups) byLabel.set(b.manifest.label, [...(byLabel.get(b.manifest.label) ?? []), b]);
  for (const list of byLabel.values()) {
    const newestFirst = [...list].sort((a, b) => (a.manifest.createdAt < b.manifest.createdAt ? 1 : -1));
    for (const e of newestFirst.slice(0, policy.keepLast ?? 0)) mark(e, "last");
    for (const [rule, n, bucket] of [
      ["daily", policy.keepDaily, (d: Date) => d.toISOString().slice(0, 10)],
      ["weekly", policy.keepWeekly, isoWeek],
    ] as const) {
      if (!n) continue;
      const seen = new Set<string>();
      for (const e of newestFirst) {
        const key = bucket(new Date(e.manifest.createdAt));
        if (seen.has(key)) continue;
        if (seen.size >= n) break;
        seen.add(key);
        mark(e, rule);
      }
    }
    const newestVerified = newestFirst.find((e) => e.verified);
    if (newestVerified) mark(newestVerified, "newest verified");
  }
  return {
    keep: backups.filter((b) => reasons.has(b)).map((entry) => ({ entry, reasons: reasons.get(entry) ?? [] })),
    remove: backups.filter((b) => !reasons.has(b)),
  };
}
