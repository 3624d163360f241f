// What every form of `backup` does around the backup itself: the progress line, the metrics (textfile
// and Pushgateway) counted as each backup ends and published however the run ends, and what a finished
// backup prints. Types only from the backup modules: the CLI loads those when a form runs.
import type { BackupResult } from "../backup/etcd-backup.js";
import type { HostedBackupResult } from "../backup/hosted-backup.js";
import type { MetricsTarget } from "../metrics/backup-metrics.js";
import type { EncryptionFacts, Manifest } from "../store/manifest.js";
import type { CliContext } from "./context.js";
import { type MetricsFlags, type MetricsReport, metricsReport } from "./metrics-options.js";
import { toJson, totalKeysText, write } from "./output.js";
import { transferProgress } from "./progress.js";

/** A finished backup of either form: plain etcd, or a hosted cluster (a dry run has no manifest). */
export type AnyBackupResult = BackupResult | HostedBackupResult;

/**
 * Counts one backup into the metrics as it settles: a success with its manifest's facts (a dry run
 * counts nothing), a failure under `target`. The result or the error passes through unchanged.
 */
export function observeBackup<R extends AnyBackupResult>(
  metrics: MetricsReport,
  target: MetricsTarget,
  backup: Promise<R>,
): Promise<R> {
  return backup.then(
    metrics.succeeded(target, (r) => ("manifest" in r ? r.manifest : undefined)),
    metrics.failed(target),
  );
}

/**
 * One backup from start to printed result: the metrics flags checked before it starts, a progress
 * line while the snapshot streams, the metrics published whether it succeeded or failed, then the
 * summary (or one JSON object) on stdout.
 */
export async function runReportedBackup(
  flags: MetricsFlags & { output: "text" | "json" },
  ctx: CliContext,
  target: MetricsTarget,
  backup: (onProgress: (bytes: number, total: number) => void) => Promise<AnyBackupResult>,
): Promise<void> {
  const metrics = await metricsReport(flags, ctx);
  const progress = transferProgress("snapshot");
  let result: AnyBackupResult;
  try {
    result = await observeBackup(metrics, target, backup(progress.update));
  } finally {
    progress.stop();
    await metrics.publish();
  }
  printBackup(result, flags.output);
}

/** What a finished backup prints: a summary for people, or one JSON object. */
export function printBackup(result: AnyBackupResult, output: "text" | "json"): void {
  if ("dryRun" in result && result.dryRun) {
    if (output === "json") write(toJson({ dryRun: true, plan: result.plan }));
    else {
      write(`plan for ${result.plan.cluster} (${result.plan.mode}; nothing was changed):`);
      for (const [i, step] of result.plan.steps.entries()) write(`  ${i + 1}. ${step}`);
    }
    return;
  }
  write(output === "json" ? toJson(jsonOf(result)) : summaryOf(result));
}

type Stored = BackupResult | Extract<HostedBackupResult, { dryRun: false }>;
/** The hosted form's extras (the cluster, how etcd was reached), or undefined for plain etcd. */
const hostedOf = (r: Stored) => ("access" in r ? r : undefined);

/** Snapshot throughput, for the plain form (the hosted form's duration includes the pause). */
const mibPerSecond = (m: Manifest) => m.snapshot.objectSize / 1048576 / Math.max(0.001, m.timings.snapshotSeconds);

function jsonOf(r: Stored): object {
  const m = r.manifest;
  const hosted = hostedOf(r);
  if (!hosted)
    return {
      ref: r.ref,
      backupId: m.backupId,
      member: m.source.member,
      snapshot: m.snapshot,
      timings: m.timings,
      mibPerSecond: Number(mibPerSecond(m).toFixed(1)),
    };
  return {
    ref: r.ref,
    backupId: m.backupId,
    mode: m.mode,
    writerDowntime: m.writerDowntime,
    snapshot: m.snapshot,
    encryption: m.encryption,
    timings: m.timings,
    etcdAccess: hosted.access,
  };
}

function summaryOf(r: Stored): string {
  const m = r.manifest;
  const s = m.snapshot;
  const hosted = hostedOf(r);
  const member = `${m.source.member.name} (${m.source.member.isLeader ? "leader" : "follower"}, etcd ${m.source.etcdVersion}${hosted ? `, reached by ${hosted.access}` : ""})`;
  const downtime = m.writerDowntime
    ? `; writers down ${m.writerDowntime.seconds.toFixed(1)}s (${m.writerDowntime.startedAt} to ${m.writerDowntime.endedAt})`
    : "";
  return [
    `backup ${m.backupId}${hosted ? ` of ${hosted.plan.cluster}` : ""} stored and verified`,
    `  ref       ${r.ref}`,
    ...(hosted ? [`  mode      ${m.mode}${downtime}`] : []),
    `  member    ${member}`,
    `  revision  ${s.revision}, ${totalKeysText(s.totalKeys)}, status hash ${s.statusHash.toString(16)}`,
    `  size      ${s.objectSize} bytes, sha256 ${s.sha256}`,
    ...(hosted ? [`  key       ${keyLine(m.encryption)}`] : []),
    `  duration  ${m.timings.totalSeconds.toFixed(2)}s${hosted ? "" : ` (${mibPerSecond(m).toFixed(1)} MiB/s)`}`,
  ].join("\n");
}

function keyLine(e: EncryptionFacts | undefined): string {
  if (!e) return "no secret encryption configured";
  if (e.type === "kms") return `KMS${e.kms ? ` ${e.kms.arn} (${e.kms.region})` : ""}`;
  if (e.keys.length === 0) return "aescbc key NOT saved (--no-key)";
  return `aescbc ${e.keys.map((k) => k.keyName).join(", ")} saved${e.object ? ` as ${e.object} (age)` : " to --key-to"}`;
}
