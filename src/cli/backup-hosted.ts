import { type Command, Option } from "commander";
import { durationFlag, PHASE_RANGE } from "../duration.js";
import { UsageError } from "../errors.js";
import { runReportedBackup } from "./backup-report.js";
import type { CliContext } from "./context.js";
import { type KubeFlags, kubeAccess } from "./kube-options.js";
import type { MetricsFlags } from "./metrics-options.js";
import { type StoreFlags, storeSettings } from "./options.js";

export interface HostedFlags extends KubeFlags, StoreFlags, MetricsFlags {
  to?: string;
  mode?: "quiesced" | "online";
  writers?: string;
  pauseTimeout?: string;
  keyRecipient?: string[];
  keyTo?: string;
  /** `--no-key` shares its name with etcd's TLS flag `--key <file>`: false means "do not save the key"; true is the default. */
  key?: string | boolean;
  allMembers?: boolean;
  dryRun?: boolean;
  portForward?: boolean;
  endpoints?: string;
  output: "text" | "json";
}

export function addHostedOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--mode <mode>", "quiesced: writers scaled to 0 (the documented procedure); online: they keep running")
        .choices(["quiesced", "online"])
        .default("quiesced"),
    )
    .option(
      "--writers <names>",
      "etcd writers to scale down (default: kube-apiserver,openshift-apiserver,openshift-oauth-apiserver)",
    )
    .option("--pause-timeout <duration>", "how long the pause lasts if this tool dies (e.g. 30m, 1h)", "30m")
    .option(
      "--key-recipient <age1...>",
      "hosted cluster: save the encryption key encrypted to this age recipient (repeatable; an aescbc cluster needs this, --key-to or --no-key)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--key-to <dir|store-url>", "save the encryption key unencrypted (0600) into this separate store")
    .option("--no-key", "do not save the encryption key (the backup then restores only with a key kept elsewhere)")
    .option("--all-members", "save one snapshot per etcd member, as the documented procedure does")
    .option("--port-forward", "reach etcd through a port-forward even inside a pod")
    .option("--dry-run", "print the plan and change nothing");
}

/**
 * What every form of a hosted cluster's backup takes from the flags (one cluster or `--all`): the
 * management cluster, the store, the mode, where the key goes. Checks the key flags first.
 */
export async function hostedBackupSettings(flags: HostedFlags & { to: string }, ctx: CliContext) {
  if (typeof flags.key === "string")
    throw new UsageError(
      "--key is etcd's TLS key file; a hosted cluster's TLS comes from its Secrets (did you mean --key-to?)",
    );
  const noKey = flags.key === false;
  const recipients = flags.keyRecipient ?? [];
  const chosen = [recipients.length > 0, flags.keyTo !== undefined, noKey].filter(Boolean).length;
  if (chosen > 1) throw new UsageError("choose one of --key-recipient, --key-to and --no-key");
  const pauseTimeoutMs = durationFlag("--pause-timeout", flags.pauseTimeout ?? "30m", "90s, 30m or 1h", PHASE_RANGE);
  const [{ openStore }, { loadKubeConfig, ManagementCluster }] = await Promise.all([
    import("../store/open-store.js"),
    import("../hostedcluster/kube.js"),
  ]);
  const settings = storeSettings(flags);
  const cluster = new ManagementCluster(loadKubeConfig(kubeAccess(flags)));
  const key =
    recipients.length > 0
      ? { kind: "recipients" as const, recipients }
      : flags.keyTo !== undefined
        ? { kind: "store" as const, store: openStore(flags.keyTo, { ...settings, objectLock: undefined }) }
        : { kind: "none" as const };
  return {
    cluster,
    shared: {
      store: openStore(flags.to, settings),
      mode: flags.mode ?? "quiesced",
      key,
      keyRequired: !noKey,
      writers: flags.writers
        ?.split(",")
        .map((w) => w.trim())
        .filter(Boolean),
      pauseTimeoutMs,
      portForward: flags.portForward,
      allMembers: flags.allMembers,
      dryRun: flags.dryRun,
      defer: (what: string, cleanup: () => Promise<void>) => ctx.defer(what, cleanup),
    },
  };
}

export async function runHostedBackup(
  name: string,
  flags: HostedFlags & { to: string },
  ctx: CliContext,
): Promise<void> {
  const namespace = flags.namespace;
  if (!namespace) throw new UsageError(`missing -n/--namespace: the namespace of the HostedCluster ${name}`);
  const { cluster, shared } = await hostedBackupSettings(flags, ctx);
  const { backupHostedCluster } = await import("../backup/hosted-backup.js");
  await runReportedBackup(flags, ctx, { cluster: `${namespace}/${name}`, store: shared.store.url }, (onProgress) =>
    backupHostedCluster({
      ...shared,
      cluster,
      namespace,
      name,
      endpoints: flags.endpoints,
      signal: ctx.signal,
      logger: ctx.logger,
      onProgress,
    }),
  );
}
