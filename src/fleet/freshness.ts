import type { Manifest } from "../store/manifest.js";

/**
 * A cluster's state as a cron check sees it, most severe first:
 * - `failing`: the newest backup's newest verification failed (the backup a restore would take is
 *   known bad), or its chain of delta segments has a gap or an unreadable record;
 * - `stale`: the newest restorable point (the newest backup, or the newest committed segment of its
 *   chain for a continuous backup) is older than the allowed age (the RPO is broken);
 * - `unverified`: only with a verification age limit: no backup of the cluster was read back from
 *   the store successfully (`verify`, a restore drill) within it;
 * - `ok`.
 */
export type FreshnessStatus = "failing" | "stale" | "unverified" | "ok";

const SEVERITY: readonly FreshnessStatus[] = ["failing", "stale", "unverified", "ok"];

export interface FreshnessPolicy {
  readonly now: Date;
  /** A newest backup older than this is stale. */
  readonly maxAgeMs: number;
  /** When set, a cluster without a successful read-back verification this recent is unverified. */
  readonly maxVerifyAgeMs?: number;
}

export interface ClusterFreshness {
  /** The backup series: `<namespace>/<cluster>` for a hosted cluster, `--name` for plain etcd. */
  readonly label: string;
  readonly status: FreshnessStatus;
  /** Every rule the cluster breaks, one short sentence each (empty when ok). */
  readonly problems: readonly string[];
  readonly backups: number;
  readonly lastBackup: { readonly ref: string; readonly at: string; readonly ageSeconds: number };
  /**
   * The newest point a restore can reach, whose age is the cluster's recovery point: the close of the
   * newest committed segment of a continuous backup's chain (`segment`), else the newest backup
   * (`backup`). On an idle etcd it is the later time the follower found no change since: the newest
   * record's coverage (`segment`), or, before the chain's first segment, the base's (`coverage`).
   */
  readonly rpo: {
    readonly at: string;
    readonly ageSeconds: number;
    readonly revision: number;
    readonly from: "segment" | "coverage" | "backup";
  };
  /**
   * The newest successful verification that read a stored backup of this cluster back (`verify`,
   * restore drill). The check made while the snapshot streamed does not count: every committed
   * backup has it.
   */
  readonly lastVerified?: { readonly at: string; readonly ageSeconds: number };
  /** Bytes of the newest snapshot, and of the one before it when there is one. */
  readonly size: number;
  readonly previousSize?: number;
}

export interface CatalogBackup {
  readonly ref: string;
  readonly manifest: Manifest;
  /** The restorable window of its delta segments (continuous/window.ts), for a continuous backup. */
  readonly chain?: {
    readonly toRevision: number;
    readonly toTime: string;
    readonly segments: number;
    readonly problems: readonly string[];
    /** Set when `toTime` is the base's idle coverage (no segment yet). */
    readonly baseCoveredAt?: string;
  };
}

/** One row per label, sorted by label; pure (the caller reads the catalog and passes the clock). */
export function fleetFreshness(backups: readonly CatalogBackup[], policy: FreshnessPolicy): ClusterFreshness[] {
  const byLabel = new Map<string, CatalogBackup[]>();
  for (const b of backups) {
    const list = byLabel.get(b.manifest.label) ?? [];
    list.push(b);
    byLabel.set(b.manifest.label, list);
  }
  return [...byLabel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, list]) => clusterFreshness(label, list, policy));
}

export function clusterFreshness(
  label: string,
  backups: readonly CatalogBackup[],
  policy: FreshnessPolicy,
): ClusterFreshness {
  const sorted = [...backups].sort((a, b) => Date.parse(b.manifest.createdAt) - Date.parse(a.manifest.createdAt));
  const [newest, previous] = sorted;
  if (!newest) throw new RangeError(`no backups for ${label}`);
  const now = policy.now.getTime();
  const ageSeconds = (at: string) => Math.max(0, (now - Date.parse(at)) / 1000);
  const lastVerifiedAt = sorted
    .flatMap((b) => b.manifest.verifications.slice(1).filter((v) => v.ok))
    .map((v) => v.at)
    .reduce<string | undefined>(
      (max, at) => (max === undefined || Date.parse(at) > Date.parse(max) ? at : max),
      undefined,
    );

  const problems: Array<{ status: FreshnessStatus; text: string }> = [];
  const newestCheck = newest.manifest.verifications.at(-1);
  if (newestCheck && !newestCheck.ok)
    problems.push({
      status: "failing",
      text: `newest backup failed verification at ${newestCheck.at}${newestCheck.detail ? `: ${newestCheck.detail}` : ""}`,
    });
  for (const p of newest.chain?.problems ?? [])
    problems.push({
      status: "failing",
      text: `the newest backup's chain stops at revision ${newest.chain?.toRevision}: ${p}`,
    });
  const age = ageSeconds(newest.manifest.createdAt);
  const chain = newest.chain && newest.chain.segments > 0 ? newest.chain : undefined;
  // No segment yet, etcd idle since the base: the follower's coverage of the base (never past a problem).
  const covered =
    !chain && newest.chain?.baseCoveredAt !== undefined && newest.chain.problems.length === 0
      ? newest.chain.baseCoveredAt
      : undefined;
  const rpo = chain
    ? { at: chain.toTime, revision: chain.toRevision, from: "segment" as const }
    : covered !== undefined
      ? { at: covered, revision: newest.manifest.snapshot.revision, from: "coverage" as const }
      : { at: newest.manifest.createdAt, revision: newest.manifest.snapshot.revision, from: "backup" as const };
  const rpoAge = ageSeconds(rpo.at);
  const rpoWhat = { segment: "committed segment", coverage: "idle coverage of the newest backup", backup: "backup" };
  if (rpoAge * 1000 > policy.maxAgeMs)
    problems.push({
      status: "stale",
      text: `newest ${rpoWhat[rpo.from]} is ${formatAge(rpoAge)} old (limit ${formatAge(policy.maxAgeMs / 1000)})`,
    });
  if (policy.maxVerifyAgeMs !== undefined) {
    const limit = formatAge(policy.maxVerifyAgeMs / 1000);
    if (lastVerifiedAt === undefined)
      problems.push({ status: "unverified", text: `never read back and verified (limit ${limit})` });
    else if (ageSeconds(lastVerifiedAt) * 1000 > policy.maxVerifyAgeMs)
      problems.push({
        status: "unverified",
        text: `last read back and verified ${formatAge(ageSeconds(lastVerifiedAt))} ago (limit ${limit})`,
      });
  }
  const status = SEVERITY.find((s) => problems.some((p) => p.status === s)) ?? "ok";
  return {
    label,
    status,
    problems: problems.map((p) => p.text),
    backups: sorted.length,
    lastBackup: { ref: newest.ref, at: newest.manifest.createdAt, ageSeconds: age },
    rpo: { ...rpo, ageSeconds: rpoAge },
    ...(lastVerifiedAt !== undefined
      ? { lastVerified: { at: lastVerifiedAt, ageSeconds: ageSeconds(lastVerifiedAt) } }
      : {}),
    size: newest.manifest.snapshot.objectSize,
    ...(previous ? { previousSize: previous.manifest.snapshot.objectSize } : {}),
  };
}

/** `45s`, `12m`, `3h12m`, `2d4h`: an age an SRE reads at a glance (whole units, rounded down). */
export function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** `+3.2%`, `-0.5%`, `±0%`, or `new` when there is nothing to compare with. */
export function sizeTrend(size: number, previous: number | undefined): string {
  if (previous === undefined) return "new";
  if (previous === size) return "±0%";
  const pct = ((size - previous) / previous) * 100;
  return `${pct > 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

/** The exit status a cron check wants: 3 when a verification is failing, 1 when stale or unverified, else 0. */
export function fleetExitCode(rows: readonly ClusterFreshness[]): 0 | 1 | 3 {
  if (rows.some((r) => r.status === "failing")) return 3;
  return rows.some((r) => r.status !== "ok") ? 1 : 0;
}
