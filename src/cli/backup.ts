import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { addFleetOptions, type FleetFlags, runBackupAll, wantsFleet } from "./backup-all.js";
import { addHostedOptions, type HostedFlags, runHostedBackup } from "./backup-hosted.js";
import { runReportedBackup } from "./backup-report.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKubeOptions } from "./kube-options.js";
import { addMetricsOptions, type MetricsFlags } from "./metrics-options.js";
import {
  addEtcdOptions,
  addStoreReadOptions,
  addStoreUploadOptions,
  type EtcdFlags,
  etcdConnection,
  outputOption,
  type StoreFlags,
  storeSettings,
} from "./options.js";

interface BackupFlags
  extends Omit<EtcdFlags, "key">,
    StoreFlags,
    Omit<HostedFlags, "output">,
    FleetFlags,
    MetricsFlags {
  /** `--key <file>` (etcd TLS) or `--no-key` (false: do not save a hosted cluster's encryption key). */
  key?: string | boolean;
  to?: string;
  name?: string;
  member?: string;
  continuous?: boolean;
  segment?: string;
  segmentMax?: string;
  fullEvery?: string;
  output: "text" | "json";
}

/** Option attribute names and their flags, per form of `backup`. */
const HOSTED_ONLY: ReadonlyArray<[string, string]> = [
  ["kubeconfig", "--kubeconfig"],
  ["context", "--context"],
  ["mode", "--mode"],
  ["writers", "--writers"],
  ["pauseTimeout", "--pause-timeout"],
  ["keyRecipient", "--key-recipient"],
  ["keyTo", "--key-to"],
  ["allMembers", "--all-members"],
  ["portForward", "--port-forward"],
  ["dryRun", "--dry-run"],
];
const FLEET_ONLY: ReadonlyArray<[string, string]> = [
  ["allNamespaces", "--all-namespaces"],
  ["selector", "--selector"],
  ["parallel", "--parallel"],
];
const PLAIN_ONLY: ReadonlyArray<[string, string]> = [
  ["name", "--name"],
  ["member", "--member"],
  ["cacert", "--cacert"],
  ["cert", "--cert"],
  ["serverName", "--server-name"],
  ["user", "--user"],
  ["password", "--password"],
];

const CONTINUOUS_ONLY: ReadonlyArray<[string, string]> = [
  ["continuous", "--continuous"],
  ["segment", "--segment"],
  ["segmentMax", "--segment-max"],
  ["fullEvery", "--full-every"],
];

function refuse(given: (name: string) => boolean, options: ReadonlyArray<[string, string]>, why: string): void {
  const wrong = options.filter(([name]) => given(name)).map(([, flag]) => flag);
  if (wrong.length > 0) throw new UsageError(`${wrong.join(", ")}: ${why}`);
}

export function registerBackup(program: Command, ctx: CliContext): void {
  const cmd = program
    .command("backup [hosted-cluster]")
    .description(
      "back up a hosted cluster's etcd (with -n; the documented procedure, made safe), every hosted cluster of a namespace (--all) or any etcd (--endpoints, --name): a verified snapshot into S3 or a local store, manifest last",
    )
    .option("--to <store-url>", "s3://bucket/prefix, file:///path or a directory (required in every form)")
    .option("--name <label>", "plain etcd (with --endpoints): label of this backup series (required there)")
    .option(
      "--member <name>",
      "plain etcd: member to snapshot (default: the leader; falls back to another healthy member)",
    )
    .option(
      "--object-lock <mode:days>",
      "S3 Object Lock on the snapshot, key and manifest: governance:<days> or compliance:<days> (bucket must have Object Lock)",
    )
    .option(
      "--continuous",
      "after the full backup, follow etcd's watch and store delta segments beside it until stopped (point-in-time restore); resumes the newest chain of --name (a hosted cluster's: online, holding the chain Lease in its control-plane namespace)",
    )
    .option("--segment <duration>", "with --continuous: close a segment this long after its first change (default 10s)")
    .option("--segment-max <size>", "with --continuous: close a segment at this size, e.g. 8MiB (default 8MiB)")
    .option(
      "--full-every <duration>",
      "with --continuous: start a new chain (a new full backup) when the chain is this old, e.g. 6h (default: only after a compaction)",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples(
        [
          "Back up a hosted cluster (the documented procedure, made safe), its key sealed to your age recipient",
          "backup example -n clusters --to s3://hcp-backups/prod --key-recipient age1...",
        ],
        [
          "Every hosted cluster of a namespace, two at a time, without pausing them",
          "backup --all -n clusters --to s3://hcp-backups/prod --no-key --mode online",
        ],
        [
          "Any etcd over mutual TLS (the plain form: --endpoints and --name, no hosted cluster)",
          "backup --endpoints https://10.0.0.5:2379 --cacert ca.crt --cert client.crt --key client.key --to /var/backups/etcd --name prod-etcd",
        ],
      ),
    );
  addKubeOptions(
    cmd,
    "namespace of the HostedCluster (required with <hosted-cluster> and with --all unless -A; not for plain etcd)",
  );
  addHostedOptions(cmd);
  addFleetOptions(cmd);
  addEtcdOptions(
    cmd,
    "etcd client URLs, comma-separated, e.g. https://host:2379: required for plain etcd (with --name); with <hosted-cluster>, reach its etcd there instead of by pod IP or port-forward",
  );
  addStoreReadOptions(cmd);
  addStoreUploadOptions(cmd);
  addMetricsOptions(cmd);
  cmd.action(async (hostedCluster: string | undefined, flags: BackupFlags) => {
    // Each form refuses the other's flags: a --dry-run that a plain backup ignored would take a real one.
    const given = (name: string) => cmd.getOptionValueSource(name) === "cli";
    if (wantsFleet(flags))
      refuse(
        given,
        CONTINUOUS_ONLY,
        "a continuous backup follows one etcd: a hosted cluster or --endpoints with --name",
      );
    if (!flags.continuous && (given("segment") || given("segmentMax") || given("fullEvery")))
      throw new UsageError("--segment, --segment-max and --full-every go with --continuous");
    if (wantsFleet(flags)) {
      if (hostedCluster !== undefined)
        throw new UsageError(`--all backs up every hosted cluster: drop "${hostedCluster}"`);
      refuse(given, PLAIN_ONLY, "each hosted cluster's etcd TLS and credentials come from the cluster");
      if (!flags.to)
        throw new UsageError("missing --to: where to store the backups (s3://bucket/prefix or a directory)");
      await runBackupAll({ ...flags, to: flags.to }, ctx);
      return;
    }
    refuse(given, FLEET_ONLY, "these apply to backup --all only");
    if (hostedCluster !== undefined) {
      refuse(given, PLAIN_ONLY, "a hosted cluster's backup takes etcd's TLS and credentials from the cluster");
      if (!flags.to)
        throw new UsageError("missing --to: where to store the backup (s3://bucket/prefix or a directory)");
      if (flags.continuous) {
        if (given("mode") && flags.mode !== "online")
          throw new UsageError("--continuous is online (the writers keep running): drop --mode quiesced");
        if (flags.dryRun) throw new UsageError("--dry-run does not go with --continuous");
        const { runHostedContinuous } = await import("./backup-continuous.js");
        await runHostedContinuous(hostedCluster, { ...flags, to: flags.to }, ctx);
        return;
      }
      await runHostedBackup(hostedCluster, { ...flags, to: flags.to }, ctx);
      return;
    }
    if (given("namespace"))
      throw new UsageError(
        "-n/--namespace without a hosted cluster: name it, as in backup <hosted-cluster> -n <namespace>",
      );
    refuse(
      given,
      HOSTED_ONLY,
      "these apply to a hosted cluster's backup only (backup <hosted-cluster> -n <namespace>)",
    );
    if (!flags.to) throw new UsageError("missing --to: where to store the backup (s3://bucket/prefix or a directory)");
    if (!flags.name) throw new UsageError("missing --name: the label of this backup series, e.g. --name prod-etcd");
    if (flags.continuous) {
      const { runContinuous } = await import("./backup-continuous.js");
      await runContinuous({ ...flags, to: flags.to, name: flags.name }, ctx);
      return;
    }
    const conn = await etcdConnection({ ...flags, key: typeof flags.key === "string" ? flags.key : undefined });
    const { openStore } = await import("../store/open-store.js");
    const { backupEtcd } = await import("../backup/etcd-backup.js");
    const store = openStore(flags.to, storeSettings(flags));
    const label = flags.name;
    await runReportedBackup(flags, ctx, { cluster: label, store: store.url }, (onProgress) =>
      backupEtcd({
        ...conn,
        store,
        label,
        member: flags.member,
        signal: ctx.signal,
        logger: ctx.logger,
        onProgress,
        onFallback: (failed, reason, next) =>
          process.stderr.write(`hcp-etcd-backup: member ${failed} failed (${reason}); trying ${next}\n`),
      }),
    );
  });
}
