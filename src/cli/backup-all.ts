import type { Command } from "commander";
import { OperationError, UsageError } from "../errors.js";
import type { ClusterResult, FleetBackupReport } from "../fleet/backup-all.js";
import { type HostedFlags, hostedBackupSettings } from "./backup-hosted.js";
import { observeBackup } from "./backup-report.js";
import type { CliContext } from "./context.js";
import { metricsReport } from "./metrics-options.js";
import { sizeText, toJson, write } from "./output.js";
import { table } from "./table.js";

export interface FleetFlags {
  all?: boolean;
  allNamespaces?: boolean;
  selector?: string;
  parallel?: number;
}

/** `backup --all`'s own flags; every other hosted-cluster flag applies to each cluster. */
export function addFleetOptions(cmd: Command): Command {
  return cmd
    .option("--all", "back up every hosted cluster of -n <namespace> (or of every namespace with -A)")
    .option("-A, --all-namespaces", "every hosted cluster of every namespace (implies --all)")
    .option("-l, --selector <labels>", "with --all: only the HostedClusters matching this label selector")
    .option(
      "--parallel <n>",
      "with --all: backups at once (memory grows by one snapshot stream each)",
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--parallel must be 1 to 64, got "${v}"`);
        return n;
      },
      2,
    );
}

/** True when the command line asks for the fleet form. */
export function wantsFleet(flags: FleetFlags): boolean {
  return flags.all === true || flags.allNamespaces === true;
}

export async function runBackupAll(flags: HostedFlags & FleetFlags & { to: string }, ctx: CliContext): Promise<void> {
  if (flags.endpoints !== undefined)
    throw new UsageError("--endpoints names one etcd: with --all each cluster's etcd is found from its HostedCluster");
  if (flags.allNamespaces && flags.namespace) throw new UsageError("-n/--namespace and --all-namespaces: choose one");
  if (!flags.allNamespaces && !flags.namespace)
    throw new UsageError("--all needs -n <namespace> or --all-namespaces (-A)");
  const { cluster, shared } = await hostedBackupSettings(flags, ctx);
  const metrics = await metricsReport(flags, ctx);
  const { backupAll } = await import("../fleet/backup-all.js");
  const store = shared.store.url;
  const report = await backupAll({
    cluster,
    scope: { namespace: flags.allNamespaces ? undefined : flags.namespace, selector: flags.selector },
    parallel: flags.parallel ?? 2,
    backup: shared,
    signal: ctx.signal,
    logger: ctx.logger,
    observe: (name, backup) => observeBackup(metrics, { cluster: name, store }, backup),
  }).finally(() => metrics.publish());
  if (flags.output === "json") write(toJson(report));
  else if (report.results.length === 0)
    write(
      `no hosted clusters in ${flags.allNamespaces ? "any namespace" : `namespace ${flags.namespace}`}${flags.selector ? ` matching ${flags.selector}` : ""}`,
    );
  else write(resultTable(report));
  if (report.failed > 0) {
    const names = report.results.filter((r) => r.status === "failed").map((r) => r.cluster);
    throw new OperationError(
      `${report.failed} of ${report.results.length} hosted-cluster backups failed: ${names.join(", ")}`,
    );
  }
}

function resultTable(report: FleetBackupReport): string {
  const rows = [["CLUSTER", "STATUS", "BACKUP", "SIZE", "DURATION", "DETAIL"]];
  for (const r of report.results) rows.push([r.cluster, r.status.toUpperCase(), ...columns(r)]);
  return table(rows);
}

function columns(r: ClusterResult): [string, string, string, string] {
  const took = `${r.seconds.toFixed(1)}s`;
  switch (r.status) {
    case "ok":
      return [
        r.backupId,
        sizeText(r.size),
        took,
        r.writerDowntimeSeconds !== undefined ? `writers down ${r.writerDowntimeSeconds.toFixed(1)}s` : "online",
      ];
    case "planned":
      return ["-", "-", "-", `dry run: ${r.steps.length} steps`];
    case "failed":
      return ["-", "-", took, r.error];
    case "skipped":
      return ["-", "-", "-", r.reason];
    case "cancelled":
      return ["-", "-", "-", "interrupted (cluster resumed if it had been changed)"];
  }
}
