import { type Command, Option } from "commander";
import { durationFlag, FULL_EVERY_RANGE, PHASE_RANGE, SEGMENT_RANGE } from "../duration.js";
import { UsageError } from "../errors.js";
import { toolVersion } from "../package-info.js";
import type { ScheduleScope, StoreCredentials } from "../schedule/manifests.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKubeOptions, type KubeFlags, kubeAccess } from "./kube-options.js";
import { checkPushgatewayUrl } from "./metrics-options.js";
import { type StoreFlags, storeSettings } from "./options.js";
import { write } from "./output.js";

interface ScheduleFlags extends KubeFlags, StoreFlags {
  all?: boolean;
  allNamespaces?: boolean;
  to?: string;
  cron?: string;
  timeZone?: string;
  keyRecipient?: string[];
  /** `--no-key`: false. */
  key: boolean;
  keySecret?: string[];
  credentialsSecret?: string;
  roleArn?: string;
  image: string;
  name?: string;
  jobNamespace?: string;
  clusters?: string;
  activeDeadline?: string;
  apply?: boolean;
  pushgateway?: string;
  continuous?: boolean;
  segment?: string;
  fullEvery?: string;
}

const repeatable = (v: string, prev: string[] = []) => [...prev, v];

/** The image a release publishes (the Containerfile builds it), tagged with this tool's version. */
export function defaultImage(): string {
  return `ghcr.io/hcp-etcd-backup/hcp-etcd-backup:${toolVersion()}`;
}

export function registerSchedule(program: Command, ctx: CliContext): void {
  const cmd = program
    .command("schedule [hosted-cluster]")
    .description(
      "render (or --apply) a CronJob that backs up a hosted cluster, or every one (--all), online and verified, with its ServiceAccount, least-privilege RBAC and the NetworkPolicy that lets it reach etcd",
    )
    .option("--all", "every hosted cluster of -n, or of every namespace with --all-namespaces")
    .option("-A, --all-namespaces", "with --all: every namespace (RBAC: a ClusterRole to list HostedClusters)")
    .option("--to <store-url>", "where the backups go: s3://bucket/prefix (required)")
    .option("--cron <expr>", 'when, as a CronJob schedule: 5 fields, e.g. "0 */6 * * *" (required)')
    .option("--time-zone <tz>", "time zone of --cron, e.g. Europe/Berlin (default: the controller's, UTC)")
    .option("--key-recipient <age1...>", "save the aescbc key encrypted to this age recipient (repeatable)", repeatable)
    .option("--no-key", "do not save the aescbc key (the backups then restore only with a key kept elsewhere)")
    .option(
      "--key-secret <name>",
      "aescbc key Secret the backup may read (repeatable; default: from the HostedCluster when read, else <cluster>-etcd-encryption-key)",
      repeatable,
    )
    .option(
      "--credentials-secret <name>",
      "Secret in the job's namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (optional AWS_SESSION_TOKEN)",
    )
    .option("--role-arn <arn>", "IAM role for the ServiceAccount (IRSA: eks.amazonaws.com/role-arn)")
    .option(
      "--image <ref>",
      "the tool's container image: none is published yet, so build it (make image in a checkout), push it and pass its reference here",
      defaultImage(),
    )
    .option("--name <name>", "name of the CronJob and its objects (default: hcp-etcd-backup-<cluster>, -all or -fleet)")
    .option("--job-namespace <ns>", "namespace of the CronJob (default: -n; required with --all-namespaces)")
    .option(
      "--clusters <ns/name,...>",
      "with --all: the clusters to grant access to, instead of those on the management cluster now",
    )
    .option("--active-deadline <duration>", "a run taking longer is stopped (default 1h; 6h with --all)")
    .option("--s3-endpoint <url>", "S3-compatible endpoint (Ceph RGW / ODF, MinIO); default AWS")
    .option("--s3-region <region>", "S3 region")
    .option("--s3-path-style", "path-style addressing")
    .addOption(new Option("--sse <type>", "server-side encryption").choices(["AES256", "aws:kms"]))
    .option("--sse-kms-key-id <id>", "KMS key for --sse aws:kms")
    .option("--pushgateway <url>", "the backup pushes its metrics there (backup --pushgateway)")
    .option(
      "--continuous",
      "one hosted cluster: a Deployment (one replica, Recreate) running backup --continuous instead of a CronJob, and the Lease its process holds so that two never write the same chain",
    )
    .option("--segment <duration>", "with --continuous: backup --segment (default 10s)")
    .option("--full-every <duration>", "with --continuous: backup --full-every, e.g. 6h (a new chain at that interval)")
    .option("--apply", "create or replace the objects on the management cluster instead of printing them");
  addKubeOptions(cmd, "namespace of the HostedCluster (required, except with --all --all-namespaces)");
  cmd.addHelpText(
    "after",
    examples(
      [
        "Print the CronJob and its RBAC for one hosted cluster, every 6 hours (no image is published yet: pass your own)",
        'schedule example -n clusters --to s3://hcp-backups/prod --cron "0 */6 * * *" --key-recipient age1... --image registry.example.com/hcp-etcd-backup:0.1.0',
      ],
      [
        "Create them for every hosted cluster of a namespace, nightly, with S3 credentials from a Secret",
        'schedule --all -n clusters --to s3://hcp-backups/prod --cron "30 1 * * *" --key-recipient age1... --credentials-secret hcp-backup-s3 --image registry.example.com/hcp-etcd-backup:0.1.0 --apply',
      ],
    ),
  );
  cmd.action(async (hostedCluster: string | undefined, flags: ScheduleFlags) => {
    const { scopeKind, recipients, jobNamespace, to, cron: expr } = checkFlags(hostedCluster, flags);
    const [{ cronRarityWarning, validateCron }, manifests, { openStore }, { checkRecipients }] = await Promise.all([
      import("../schedule/cron.js"),
      import("../schedule/manifests.js"),
      import("../store/open-store.js"),
      import("../hostedcluster/key-envelope.js"),
    ]);
    // An identity given by mistake is refused here, before it is written into a CronJob.
    if (recipients.length > 0) checkRecipients(recipients);
    const cron = flags.continuous ? "" : validateCron(expr);
    // Opening it checks the URL and the store flags the Job will be given (nothing is contacted).
    openStore(to, storeSettings(flags));
    // A plain path is most likely a mistake: inside the Job's pod it is an emptyDir deleted with the pod.
    // file:// says "a volume I mount there myself".
    if (!/^(s3|file):\/\//.test(to))
      throw new UsageError(
        `--to ${to}: a scheduled backup needs an s3:// store; a plain path would be inside the Job's pod, whose only writable place is an emptyDir deleted with it (file://${to.startsWith("/") ? "" : "/"}${to} if you mount a volume there yourself)`,
      );
    if (flags.pushgateway !== undefined) checkPushgatewayUrl(flags.pushgateway, { inline: true });
    // Whenever a cluster is named (--kubeconfig/--context, or --apply), read the HostedCluster: its
    // spec.secretEncryption names every key Secret (active and backup) the backup reads.
    const management =
      flags.apply ||
      flags.kubeconfig !== undefined ||
      flags.context !== undefined ||
      (scopeKind !== "cluster" && flags.clusters === undefined);
    const cluster = management ? await managementCluster(flags) : undefined;
    const { resolveScope } = await import("../schedule/scope.js");
    const scope = await resolveScope(
      {
        kind: scopeKind,
        ...(hostedCluster !== undefined ? { hostedCluster } : {}),
        ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
        ...(flags.keySecret ? { keySecrets: flags.keySecret } : {}),
        ...(flags.clusters !== undefined ? { clusters: flags.clusters } : {}),
      },
      cluster,
    );
    const deadline = flags.activeDeadline ?? (scopeKind === "cluster" ? "1h" : "6h");
    const objects = manifests.renderSchedule({
      scope,
      name: manifests.validateName(flags.name ?? manifests.defaultName(scope)),
      jobNamespace,
      cron,
      ...(flags.timeZone ? { timeZone: flags.timeZone } : {}),
      image: flags.image,
      store: to,
      passThroughArgs: passThroughArgs(flags),
      keyRecipients: recipients,
      credentials: credentials(flags),
      activeDeadlineSeconds: Math.round(
        durationFlag("--active-deadline", deadline, "90s, 30m or 1h", PHASE_RANGE) / 1000,
      ),
      ...(flags.continuous ? { continuous: continuousSettings(flags) } : {}),
    });
    // Warnings once everything is known good: about what the CronJob will do, not about a typo.
    const rarely = flags.continuous ? undefined : cronRarityWarning(cron);
    if (rarely) ctx.logger.warn(rarely);
    if (flags.image === defaultImage())
      ctx.logger.warn(
        `--image: the default ${flags.image} is not published yet; build it (make image in a checkout, or podman build with the Containerfile), push it to a registry the cluster can pull from, and pass --image <that reference>`,
      );
    if (!cluster && !flags.keySecret)
      ctx.logger.warn(
        "key Secret names assumed as HyperShift's CLI names them (<cluster>-etcd-encryption-key): this render read no cluster; pass --key-secret, or --apply / --kubeconfig with --all, if yours differ",
      );
    if (!flags.apply || !cluster) {
      const { toYaml } = await import("../schedule/yaml.js");
      process.stdout.write(toYaml(objects));
      return;
    }
    const { applyObjects } = await import("../schedule/apply.js");
    for (const a of await applyObjects(cluster, objects))
      write(`${a.kind} ${a.namespace ? `${a.namespace}/` : ""}${a.name} ${a.action}`);
  });
}

type ScopeKind = ScheduleScope["kind"];

/** The flags' combinations and names, checked before anything is loaded. */
function checkFlags(hostedCluster: string | undefined, flags: ScheduleFlags) {
  const scopeKind = scopeOf(hostedCluster, flags);
  if (!flags.to) throw new UsageError("missing --to: where the backups go (s3://bucket/prefix)");
  if (flags.continuous) {
    if (scopeKind !== "cluster")
      throw new UsageError(
        "--continuous follows one hosted cluster (its chain has one writer): name it instead of --all",
      );
    const wrong = [
      flags.cron !== undefined && "--cron",
      flags.timeZone !== undefined && "--time-zone",
      flags.activeDeadline !== undefined && "--active-deadline",
    ].filter(Boolean);
    if (wrong.length > 0)
      throw new UsageError(`${wrong.join(", ")}: a continuous backup runs all the time (a Deployment, not a CronJob)`);
  } else {
    if (flags.segment !== undefined || flags.fullEvery !== undefined)
      throw new UsageError("--segment and --full-every go with --continuous");
    if (!flags.cron) throw new UsageError('missing --cron: when to back up, e.g. --cron "0 */6 * * *"');
  }
  const recipients = flags.keyRecipient ?? [];
  if (recipients.length > 0 && !flags.key) throw new UsageError("choose one of --key-recipient and --no-key");
  if (recipients.length === 0 && flags.key)
    throw new UsageError(
      "say where the aescbc key goes: --key-recipient age1... (or --no-key; a backup without its key restores only with a key kept elsewhere)",
    );
  if (flags.credentialsSecret && flags.roleArn)
    throw new UsageError("choose one of --credentials-secret and --role-arn");
  if (flags.clusters !== undefined && !flags.all) throw new UsageError("--clusters goes with --all");
  const jobNamespace = flags.jobNamespace ?? flags.namespace;
  if (!jobNamespace) throw new UsageError("missing --job-namespace: where the CronJob runs (with --all-namespaces)");
  objectName("--job-namespace", jobNamespace);
  if (flags.credentialsSecret) objectName("--credentials-secret", flags.credentialsSecret);
  for (const k of flags.keySecret ?? []) objectName("--key-secret", k);
  if (flags.timeZone) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: flags.timeZone });
    } catch {
      throw new UsageError(`--time-zone "${flags.timeZone}" is not a time zone of the tz database, e.g. Europe/Berlin`);
    }
  }
  return { scopeKind, recipients, jobNamespace, to: flags.to, cron: flags.cron ?? "" };
}

/** `--segment` and `--full-every`, checked as `backup` checks them, passed through as given. */
function continuousSettings(flags: ScheduleFlags): { segment?: string; fullEvery?: string } {
  if (flags.segment !== undefined) durationFlag("--segment", flags.segment, "10s or 1m", SEGMENT_RANGE);
  if (flags.fullEvery !== undefined) durationFlag("--full-every", flags.fullEvery, "6h or 1d", FULL_EVERY_RANGE);
  return {
    ...(flags.segment !== undefined ? { segment: flags.segment } : {}),
    ...(flags.fullEvery !== undefined ? { fullEvery: flags.fullEvery } : {}),
  };
}

/** A namespace or Secret name as Kubernetes accepts it (DNS subdomain). */
function objectName(flag: string, value: string): void {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value) || value.length > 253)
    throw new UsageError(`${flag} "${value}" is not a Kubernetes name (lowercase letters, digits, '-' and '.')`);
}

function scopeOf(hostedCluster: string | undefined, flags: ScheduleFlags): ScopeKind {
  if (hostedCluster !== undefined) {
    if (flags.all || flags.allNamespaces) throw new UsageError("name one hosted cluster or use --all, not both");
    if (!flags.namespace)
      throw new UsageError(`missing -n/--namespace: the namespace of the HostedCluster ${hostedCluster}`);
    return "cluster";
  }
  if (!flags.all) throw new UsageError("name a hosted cluster, or --all with -n <namespace> or --all-namespaces");
  if (flags.allNamespaces && flags.namespace) throw new UsageError("choose one of -n and --all-namespaces");
  if (!flags.allNamespaces && !flags.namespace) throw new UsageError("--all needs -n <namespace> or --all-namespaces");
  return flags.allNamespaces ? "all-namespaces" : "namespace";
}

async function managementCluster(flags: ScheduleFlags) {
  const { loadKubeConfig, ManagementCluster } = await import("../hostedcluster/kube.js");
  return new ManagementCluster(loadKubeConfig(kubeAccess(flags)));
}

/** Flags passed through to `backup` as given: the store's, and where metrics go. */
function passThroughArgs(flags: ScheduleFlags): string[] {
  return [
    ...(flags.s3Endpoint ? ["--s3-endpoint", flags.s3Endpoint] : []),
    ...(flags.s3Region ? ["--s3-region", flags.s3Region] : []),
    ...(flags.s3PathStyle ? ["--s3-path-style"] : []),
    ...(flags.sse ? ["--sse", flags.sse] : []),
    ...(flags.sseKmsKeyId ? ["--sse-kms-key-id", flags.sseKmsKeyId] : []),
    ...(flags.pushgateway ? ["--pushgateway", flags.pushgateway] : []),
  ];
}

function credentials(flags: ScheduleFlags): StoreCredentials {
  if (flags.credentialsSecret) return { kind: "secret", secret: flags.credentialsSecret };
  if (flags.roleArn) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/.test(flags.roleArn))
      throw new UsageError(
        `--role-arn "${flags.roleArn}" is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`,
      );
    return { kind: "irsa", roleArn: flags.roleArn };
  }
  return { kind: "ambient" };
}
