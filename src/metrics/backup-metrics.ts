import { Gauge, Registry } from "prom-client";
import type { SegmentRecord } from "../continuous/segment.js";
import { lastVerification, type Manifest, type Verification } from "../store/manifest.js";

/**
 * The series every backup and verify run reports, one per (cluster, store): `cluster` is the backup's
 * label (`<namespace>/<name>` for a hosted cluster, the `--name` of a plain etcd backup), `store` the URL
 * of the store root. Values are Unix seconds, seconds and bytes, as Prometheus' conventions name them.
 */
export const METRIC_FAMILIES = {
  lastSuccess: {
    name: "hcp_etcd_backup_last_success_timestamp_seconds",
    help: "Unix time at which the newest backup was stored and verified (its manifest written).",
  },
  lastFailure: {
    name: "hcp_etcd_backup_last_failure_timestamp_seconds",
    help: "Unix time at which the newest failed backup run gave up.",
  },
  duration: {
    name: "hcp_etcd_backup_duration_seconds",
    help: "Wall time of the newest successful backup, from its start to its manifest.",
  },
  size: {
    name: "hcp_etcd_backup_size_bytes",
    help: "Size of the newest successful backup's snapshot object (etcd's trailer included).",
  },
  revision: {
    name: "hcp_etcd_backup_revision",
    help: "etcd revision captured by the newest successful backup.",
  },
  writerDowntime: {
    name: "hcp_etcd_backup_writer_downtime_seconds",
    help: "How long the etcd writers were scaled to zero by the newest successful backup (0 when online).",
  },
  verificationSuccess: {
    name: "hcp_etcd_backup_verification_success",
    help: "1 when the newest verification of the newest backup passed, 0 when it failed.",
  },
  lastVerification: {
    name: "hcp_etcd_backup_last_verification_timestamp_seconds",
    help: "Unix time of the newest verification (the one while streaming, or a later verify).",
  },
  continuousRevision: {
    name: "hcp_etcd_backup_continuous_last_revision",
    help: "etcd revision up to which a continuous backup has committed its delta segments.",
  },
  continuousTimestamp: {
    name: "hcp_etcd_backup_continuous_last_commit_timestamp_seconds",
    help: "Unix time at which a continuous backup's newest delta segment was closed: every change before it is stored. Its age is the recovery point.",
  },
  continuousLag: {
    name: "hcp_etcd_backup_continuous_segment_lag_seconds",
    help: "How long the oldest change of the newest committed delta segment waited before it was stored (segment interval plus upload).",
  },
} as const;

export type MetricFamily = keyof typeof METRIC_FAMILIES;
export const LABELS = ["cluster", "store"] as const;

/** Which series a result belongs to. */
export interface MetricsTarget {
  readonly cluster: string;
  readonly store: string;
}

type Values = Partial<Record<MetricFamily, number>>;

const seconds = (d: Date | string) => new Date(d).getTime() / 1000;
const keyOf = (t: MetricsTarget) => JSON.stringify([t.cluster, t.store]);

/**
 * Results of one run, per target: a run may back up many clusters (`backup --all`), each result is
 * recorded under its own labels. A target only carries the families its results set: a failure sets
 * the failure time alone, so publishing it (Pushgateway POST, textfile merge) keeps the last success.
 */
export class BackupMetrics {
  private readonly series = new Map<string, { target: MetricsTarget; values: Values }>();

  private set(target: MetricsTarget, values: Values): void {
    const entry = this.series.get(keyOf(target)) ?? { target: { ...target }, values: {} };
    Object.assign(entry.values, values);
    this.series.set(keyOf(target), entry);
  }

  /** A backup that was stored, verified and committed. */
  backupSucceeded(target: MetricsTarget, manifest: Manifest): void {
    const v = lastVerification(manifest);
    this.set(target, {
      lastSuccess: seconds(manifest.createdAt),
      duration: manifest.timings.totalSeconds,
      size: manifest.snapshot.objectSize,
      revision: manifest.snapshot.revision,
      writerDowntime: manifest.writerDowntime?.seconds ?? 0,
      ...(v ? { verificationSuccess: v.ok ? 1 : 0, lastVerification: seconds(v.at) } : {}),
    });
  }

  /** A continuous backup committed a delta segment, or found etcd idle since its newest (coveredAt). */
  segmentCommitted(target: MetricsTarget, record: SegmentRecord): void {
    const closed = seconds(record.closedAt);
    this.set(target, {
      continuousRevision: record.toRevision,
      continuousTimestamp: seconds(record.coveredAt ?? record.closedAt),
      continuousLag: Math.max(0, closed - seconds(record.firstEventAt ?? record.openedAt)),
    });
  }

  /**
   * A continuous backup found etcd idle since its full backup (no segment yet): the chain holds every
   * change up to `coveredAt`, at the base's revision. The lag of the newest segment is left as it was.
   */
  baseCovered(target: MetricsTarget, coverage: { readonly baseRevision: number; readonly coveredAt: string }): void {
    this.set(target, {
      continuousRevision: coverage.baseRevision,
      continuousTimestamp: seconds(coverage.coveredAt),
    });
  }

  backupFailed(target: MetricsTarget, at: Date = new Date()): void {
    this.set(target, { lastFailure: seconds(at) });
  }

  /** The result of `verify` on a stored backup. */
  verified(target: MetricsTarget, verification: Verification): void {
    this.set(target, {
      verificationSuccess: verification.ok ? 1 : 0,
      lastVerification: seconds(verification.at),
    });
  }

  /** A value read back from an earlier run's textfile. */
  restore(target: MetricsTarget, family: MetricFamily, value: number): void {
    this.set(target, { [family]: value });
  }

  /** Copies every value of `other` over this one's (newer results win). */
  absorb(other: BackupMetrics): void {
    for (const { target, values } of other.series.values()) this.set(target, values);
  }

  targets(): MetricsTarget[] {
    return [...this.series.values()].map((s) => s.target);
  }

  /** A prom-client registry holding the series of `only` the given targets (default: all), families in a fixed order. */
  registry(only?: readonly MetricsTarget[]): Registry {
    const registry = new Registry();
    const wanted = only ? new Set(only.map(keyOf)) : undefined;
    const chosen = [...this.series].filter(([key]) => !wanted || wanted.has(key)).map(([, s]) => s);
    for (const family of Object.keys(METRIC_FAMILIES) as MetricFamily[]) {
      const holders = chosen.filter((s) => s.values[family] !== undefined);
      if (holders.length === 0) continue;
      const gauge = new Gauge({ ...METRIC_FAMILIES[family], labelNames: LABELS, registers: [registry] });
      for (const { target, values } of holders)
        gauge.set({ cluster: target.cluster, store: target.store }, values[family] as number);
    }
    return registry;
  }
}
