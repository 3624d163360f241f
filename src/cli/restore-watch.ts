import type { Command } from "commander";
import { type DurationRange, durationFlag } from "../duration.js";
import { OperationError, UsageError, VerificationError } from "../errors.js";
import type { WatchResult } from "../restore/watch.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKubeOptions, type KubeFlags, kubeAccess } from "./kube-options.js";
import { addStoreReadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

interface WatchFlags extends KubeFlags, StoreFlags {
  timeout: string;
  pollInterval: string;
  endpoints?: string;
  portForward?: boolean;
  backup?: string;
  output: "text" | "json";
}

export function registerRestoreWatch(restore: Command, ctx: CliContext): void {
  const cmd = restore
    .command("watch <hosted-cluster>")
    .description(
      "follow a hosted cluster's restore (etcd-init containers, EtcdSnapshotRestored), then prove etcd came back whole: every member answers, one cluster ID, the StatefulSet's member count, one leader, agreeing revisions (exit 0 only then)",
    )
    .option("--timeout <duration>", "give up after this long, saying what is still missing (e.g. 90s, 15m)", "15m")
    .option("--poll-interval <duration>", "time between two looks at the cluster and etcd", "2s")
    .option("--endpoints <urls>", "reach etcd at these URLs (TLS still from the cluster's etcd-ca and etcd-client-tls)")
    .option("--port-forward", "reach etcd through a port-forward even inside a pod")
    .option("--backup <backup-ref>", "the backup that was restored: etcd's revision must be at least its manifest's")
    .addOption(outputOption());
  addKubeOptions(cmd);
  addStoreReadOptions(cmd);
  cmd.addHelpText(
    "after",
    examples(
      [
        "Follow the restore and prove etcd came back with at least the backup's revision",
        "restore watch example -n clusters --backup s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef",
      ],
      ["Give it 30 minutes, results as JSON", "restore watch example -n clusters --timeout 30m -o json"],
    ),
  );
  cmd.action(async (name: string, flags: WatchFlags) => {
    if (!flags.namespace) throw new UsageError(`missing -n/--namespace: the namespace of the HostedCluster ${name}`);
    const timeoutMs = durationFlag("--timeout", flags.timeout, "90s, 15m or 1h", WAIT_RANGE);
    const pollMs = durationFlag("--poll-interval", flags.pollInterval, "90s, 15m or 1h", WAIT_RANGE);
    const [{ loadKubeConfig, ManagementCluster }, { watchRestore }] = await Promise.all([
      import("../hostedcluster/kube.js"),
      import("../restore/watch.js"),
    ]);
    const backupRevision = flags.backup ? await manifestRevision(flags.backup, flags, ctx.signal) : undefined;
    const cluster = new ManagementCluster(loadKubeConfig(kubeAccess(flags)));
    const text = flags.output === "text";
    const r = await watchRestore({
      cluster,
      namespace: flags.namespace,
      name,
      timeoutMs,
      pollMs,
      endpoints: flags.endpoints,
      portForward: flags.portForward,
      backupRevision,
      signal: ctx.signal,
      logger: ctx.logger,
      // Plain progress lines would break a JSON log stream: there the logger's events say it.
      onProgress: text && ctx.logFormat === "text" ? (line) => process.stderr.write(`  ${line}\n`) : undefined,
    });
    if (text) printText(r, backupRevision);
    else write(toJson({ ...r, ...(backupRevision !== undefined ? { backupRevision } : {}) }));
    if (r.verdict === "proven") return;
    const n = r.findings.length;
    const summary = `restore of ${r.cluster} ${r.verdict === "timed-out" ? `not finished after ${flags.timeout}` : "is not sound"}: ${n} finding${n === 1 ? "" : "s"} (${r.findings[0]?.line ?? "none"})`;
    // Etcd answered and is wrong (split brain, older data): the restore failed verification.
    if (r.verdict === "failed" && r.findings.some((f) => f.source === "etcd")) throw new VerificationError(summary);
    throw new OperationError(summary);
  });
}

async function manifestRevision(ref: string, flags: StoreFlags, signal: AbortSignal): Promise<number> {
  const [{ openStore }, { MANIFEST_FILE, parseManifest }] = await Promise.all([
    import("../store/open-store.js"),
    import("../store/manifest.js"),
  ]);
  const store = openStore(ref, storeSettings(flags));
  const manifest = parseManifest(await store.read(MANIFEST_FILE, { signal }), store.urlOf(MANIFEST_FILE));
  return manifest.snapshot.revision;
}

function printText(r: WatchResult, backupRevision: number | undefined): void {
  if (r.verdict === "proven") {
    if (r.restoreUrl) {
      write(`restore of ${r.cluster} proven in ${r.seconds.toFixed(1)}s`);
      write(`  from        ${r.restoreUrl}`);
    } else
      write(
        `etcd of ${r.cluster} proven sound in ${r.seconds.toFixed(1)}s (no restoreSnapshotURL: HyperShift restored no snapshot here)`,
      );
    const c = r.controlPlaneCondition;
    if (c) write(`  condition   EtcdSnapshotRestored=${c.status} (${c.reason ?? ""})`);
    const e = r.etcd;
    if (e) {
      const m = e.members;
      const leader = m.find((x) => x.isLeader);
      write(`  members     ${m.length} of ${e.expectedMembers} answered (reached by ${e.reachedBy})`);
      write(`  cluster ID  ${m[0]?.clusterId ?? "-"}`);
      write(`  leader      ${leader ? `${leader.name} (${leader.memberId})` : "-"}`);
      const rev = m[0]?.revision ?? 0;
      write(`  revision    ${rev}${backupRevision !== undefined ? ` (backup's ${backupRevision})` : ""}`);
    }
    return;
  }
  write(`restore of ${r.cluster}: ${r.verdict === "timed-out" ? "TIMED OUT" : "FAILED"}`);
  for (const f of r.findings) write(`  ${f.line}`);
}

const WAIT_RANGE: DurationRange = { min: 100, max: 7 * 24 * 3_600_000, text: "100ms and 7 days" };
