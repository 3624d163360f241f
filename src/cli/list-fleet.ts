import type { Command } from "commander";
import { durationFlag } from "../duration.js";
import { OperationError, VerificationError } from "../errors.js";
import type { ClusterFreshness } from "../fleet/freshness.js";
import type { Store } from "../store/store.js";
import type { CliContext } from "./context.js";
import { sizeText, toJson, write } from "./output.js";
import { table } from "./table.js";

export interface FleetListFlags {
  fleet?: boolean;
  maxAge?: string;
  maxVerifyAge?: string;
}

export function addFleetListOptions(cmd: Command): Command {
  return cmd
    .option("--fleet", "one row per cluster: backup age (RPO), last read-back verification, size trend, status")
    .option(
      "--max-age <duration>",
      "with --fleet: a newest backup older than this is stale (default 25h; e.g. 90m, 2d)",
    )
    .option(
      "--max-verify-age <duration>",
      "with --fleet: a cluster with no backup read back and verified (verify) this recently is unverified",
    );
}

/** `90s`, `30m`, `25h`, `7d`: a positive age. */
/**
 * `list --fleet`: prints every cluster's row, then fails the command when any needs attention, so
 * a cron job or a monitoring probe can run it as is: exit 3 when a verification is failing, 1 when
 * a cluster is stale (or unverified, with --max-verify-age), 0 when all are ok.
 */
export async function runFleetList(
  store: Store,
  flags: FleetListFlags & { output: "table" | "json" },
  ctx: CliContext,
): Promise<void> {
  const maxAgeMs = durationFlag("--max-age", flags.maxAge ?? "25h", AGE_LIKE);
  const maxVerifyAgeMs =
    flags.maxVerifyAge !== undefined ? durationFlag("--max-verify-age", flags.maxVerifyAge, AGE_LIKE) : undefined;
  const [{ readFleetStatus }, { fleetExitCode, formatAge, sizeTrend }] = await Promise.all([
    import("../fleet/fleet-status.js"),
    import("../fleet/freshness.js"),
  ]);
  const { rows, broken } = await readFleetStatus(store, { maxAgeMs, maxVerifyAgeMs }, { signal: ctx.signal });
  if (flags.output === "json") write(toJson(rows));
  // An empty store is said once, by the error below (stderr), not also as a table on stdout.
  else if (rows.length > 0) {
    // RPO, when some cluster has a continuous backup: the age of its newest committed segment, or of
    // its idle coverage (of the newest backup for the others, the same as LAST BACKUP).
    const continuous = rows.some((r) => r.rpo.from !== "backup");
    const rpo = (r: ClusterFreshness) =>
      continuous ? [`${formatAge(r.rpo.ageSeconds)}${r.rpo.from !== "backup" ? " (continuous)" : ""}`] : [];
    const lines = [
      [
        "CLUSTER",
        "STATUS",
        "LAST BACKUP",
        ...(continuous ? ["RPO"] : []),
        "VERIFIED",
        "SIZE",
        "TREND",
        "BACKUPS",
        "PROBLEMS",
      ],
    ];
    for (const r of rows)
      lines.push([
        r.label,
        r.status.toUpperCase(),
        `${formatAge(r.lastBackup.ageSeconds)} ago`,
        ...rpo(r),
        r.lastVerified ? `${formatAge(r.lastVerified.ageSeconds)} ago` : "never",
        sizeText(r.size),
        sizeTrend(r.size, r.previousSize),
        String(r.backups),
        r.problems.join("; "),
      ]);
    write(table(lines));
  }
  for (const b of broken) process.stderr.write(`hcp-etcd-backup: warning: ${b.folder}: ${b.reason}\n`);
  const code = fleetExitCode(rows);
  if (code !== 0) {
    const summary = summarize(rows);
    throw code === 3 ? new VerificationError(summary) : new OperationError(summary);
  }
  // A probe must not stay green on a store it cannot read: a wrong prefix, or a cluster whose manifests all broke.
  if (rows.length === 0) throw new OperationError(`no backups in ${store.url}: check --from (bucket and prefix)`);
  if (broken.length > 0)
    throw new OperationError(
      `${summarize(rows)}; ${broken.length} backup folder(s) with an unreadable manifest (warnings above)`,
    );
}

function summarize(rows: readonly ClusterFreshness[]): string {
  const ok = rows.filter((r) => r.status === "ok").length;
  const parts = (["failing", "stale", "unverified"] as const)
    .map((status) => [status, rows.filter((r) => r.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  return [`${ok} of ${rows.length} clusters ok`, ...(parts.length > 0 ? [parts.join(", ")] : [])].join("; ");
}

const AGE_LIKE = "90m, 25h or 7d";
