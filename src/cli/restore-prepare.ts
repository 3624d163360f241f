import { type Command, Option } from "commander";
import type { RestorePoint } from "../continuous/replay.js";
import { OperationError, UsageError, VerificationError } from "../errors.js";
import type { Check } from "../restore/prepare/checks.js";
import type { PrepareResult } from "../restore/prepare/prepare.js";
import type { AppliedObject, TargetCluster } from "../restore/prepare/target-cluster.js";
import type { Store } from "../store/store.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addStoreReadOptions, addStoreUploadOptions, type StoreFlags, storeSettings } from "./options.js";
import { toJson } from "./output.js";
import { addPointOptions, type PointFlags, pointOf } from "./point-options.js";

interface PrepareFlags extends StoreFlags, PointFlags {
  rendered: string;
  output?: string;
  expires?: string;
  keyIdentity?: string;
  keyFile?: string;
  showUrl?: boolean;
  apply?: boolean;
  kubeconfig?: string;
  context?: string;
  report: "text" | "json";
  scratchDir?: string;
  structure: boolean;
}

export function registerRestorePrepare(restore: Command, ctx: CliContext): void {
  const cmd = restore
    .command("prepare <backup-ref>")
    .description(
      "verify a backup, presign its snapshot, patch the output of 'hcp create cluster aws --render --render-sensitive' to restore it, check every known trap first",
    )
    .requiredOption("--rendered <file>", "the rendered manifests (hcp create cluster aws --render --render-sensitive)")
    .option("-o, --output <file>", "write the patched manifests here (mode 0600; default: stdout, report on stderr)")
    .option("--expires <duration>", "how long the snapshot URL works, e.g. 6h, 24h, 7d (max 7d; default 24h)")
    .option("--key-identity <file>", "age identity file that opens the backup's encryption-key.age")
    .option(
      "--key-file <file>",
      "the raw key a backup with --key-to saved (<store>/<label>/<backup-id>/encryption-key)",
    )
    .option("--show-url", "print the presigned URL in the report (it is a bearer credential for the snapshot)")
    .option("--apply", "create the objects on the management cluster (Secrets before the HostedCluster)")
    .option("--kubeconfig <file>", "management cluster for the pre-flight checks and --apply (default: KUBECONFIG)")
    .option("--context <name>", "kubeconfig context to use")
    .addOption(new Option("--report <format>", "report format").choices(["text", "json"]).default("text"))
    .option(
      "--scratch-dir <dir>",
      "where the snapshot is staged for the structural check, and a chain replayed with --at-* (default: temp dir)",
    )
    .option("--no-structure", "skip the structural check of the snapshot (no local disk needed)");
  // A continuous backup: the chain replayed to the point is saved as a backup of its own beside it, and that is restored.
  addPointOptions(cmd);
  addStoreReadOptions(cmd);
  // verify records its result in the manifest: a bucket that demands encryption headers needs them here too.
  addStoreUploadOptions(cmd);
  cmd.addHelpText(
    "after",
    examples(
      [
        "Patch the rendered manifests into a restore and run the pre-flight checks",
        "restore prepare s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef --rendered rendered.yaml -o restore.yaml --key-identity team.agekey",
      ],
      [
        "The same, and create the objects on the management cluster",
        "restore prepare s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef --rendered rendered.yaml --key-identity team.agekey --apply",
      ],
    ),
  );
  cmd.action(async (ref: string, flags: PrepareFlags) => {
    if (flags.keyIdentity !== undefined && flags.keyFile !== undefined)
      throw new UsageError("choose one of --key-identity and --key-file");
    const { parseExpiry } = await import("../restore/prepare/expiry.js");
    const expiresInSeconds = parseExpiry(flags.expires);
    const { readRendered, writeSecretFile } = await import("../restore/prepare/files.js");
    const { openStore } = await import("../store/open-store.js");
    const { prepareRestore } = await import("../restore/prepare/prepare.js");
    const point = pointOf(flags);
    let store = openStore(ref, storeSettings(flags));
    const rendered = await readRendered(flags.rendered);
    if (point) store = await storeAtPoint(store, point, flags, ctx);
    const clusterWanted = flags.kubeconfig !== undefined || flags.context !== undefined || flags.apply === true;
    let target: TargetCluster | undefined;
    if (clusterWanted) {
      const { loadKubeConfig, ManagementCluster } = await import("../hostedcluster/kube.js");
      const { TargetCluster } = await import("../restore/prepare/target-cluster.js");
      const config = loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context });
      target = new TargetCluster(new ManagementCluster(config));
    }
    const result = await prepareRestore({
      store,
      rendered,
      expiresInSeconds,
      ...(flags.keyIdentity ? { key: { identityFile: flags.keyIdentity } } : {}),
      ...(flags.keyFile ? { key: { keyFile: flags.keyFile } } : {}),
      ...(target ? { target } : {}),
      scratchDir: flags.structure === false ? false : flags.scratchDir,
      signal: ctx.signal,
      logger: ctx.logger,
    });
    // The manifests go to stdout unless -o names a file: then the report has stdout to itself.
    const toStderr = flags.output === undefined;
    // With JSON logs stderr stays one JSON object a line: a report that goes there is one compact line.
    const format = flags.report === "json" || (toStderr && ctx.logFormat === "json") ? "json" : "text";
    const report = (r: PrepareResult, applied?: readonly AppliedObject[]) =>
      (toStderr ? process.stderr : process.stdout).write(
        `${renderReport(r, { ...flags, report: format }, applied, toStderr && format === "json")}\n`,
      );
    if (result.blocked) {
      report(result);
      const first = result.checks.find((c) => c.status === "block") as Check;
      const n = result.checks.filter((c) => c.status === "block").length;
      const message = `restore prepare blocked by ${n} check(s), nothing written or applied: ${first.id}: ${first.reason}`;
      if (first.id === "backup-verified") throw new VerificationError(message);
      // A local store: the findings above are all there is; the way out is the line that ends the run.
      if (result.unpresignable) throw new UsageError(result.unpresignable);
      throw new OperationError(message);
    }
    const yaml = result.yaml as string;
    if (flags.output) await writeSecretFile(flags.output, yaml);
    else process.stdout.write(yaml);
    let applied: readonly AppliedObject[] | undefined;
    if (flags.apply && target) applied = await target.apply(result.objects, ctx.signal);
    report(result, applied);
  });
}

/**
 * The chain of the continuous backup in `store` replayed to `point` and saved beside it as a backup of
 * its own (the same label): HyperShift's etcd-init downloads one snapshot, so that is the one presigned.
 */
async function storeAtPoint(store: Store, point: RestorePoint, flags: PrepareFlags, ctx: CliContext): Promise<Store> {
  const [{ openStore }, { readManifest }, { storeRootOf }, { backupAtPoint }] = await Promise.all([
    import("../store/open-store.js"),
    import("../backup/verify-backup.js"),
    import("../store/layout.js"),
    import("../continuous/point-backup.js"),
  ]);
  const base = await readManifest(store, ctx.signal);
  const rootUrl = storeRootOf(store.url, base.label, base.backupId);
  if (rootUrl === store.url)
    throw new UsageError(
      `--at-revision/--at-time: ${store.url} is not a backup folder of the form <store>/<label>/<backup-id>: pass the ref as list prints it`,
    );
  const root = openStore(rootUrl, storeSettings(flags));
  const made = await backupAtPoint({
    backup: store,
    root,
    point,
    ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}),
    signal: ctx.signal,
    logger: ctx.logger,
  });
  const f = made.facts;
  // stderr: stdout may be carrying the patched manifests.
  process.stderr.write(
    `the state at revision ${f.replayedRevision} (base ${f.baseRevision} + ${f.changes} changes from ${f.segments} segments, state SHA-256 ${f.stateSha256}) is saved as backup ${made.manifest.backupId}; preparing the restore of that one\n`,
  );
  if (!f.revisionsAligned)
    ctx.logger.warn(
      { backup: made.manifest.backupId },
      "the replay's revisions did not stay aligned with the source's: the restored etcd numbers revisions differently",
    );
  return openStore(root.urlOf(made.folder), storeSettings(flags));
}

const MARK: Record<Check["status"], string> = { pass: "PASS", warn: "WARN", block: "BLOCK", "not-run": "-" };

function renderReport(
  r: PrepareResult,
  flags: PrepareFlags,
  applied: readonly AppliedObject[] | undefined,
  compact: boolean,
): string {
  const url = flags.showUrl ? r.url : undefined;
  if (flags.report === "json") {
    const json = {
      ref: r.ref,
      blocked: r.blocked,
      checks: r.checks,
      changes: r.changes,
      ...(flags.output && !r.blocked ? { output: flags.output } : {}),
      ...(applied ? { applied } : {}),
      ...(url ? { url } : {}),
    };
    return compact ? JSON.stringify(json) : toJson(json);
  }
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const lines = [`restore prepare ${r.ref}`];
  for (const c of r.checks) lines.push(`  ${MARK[c.status].padEnd(5)} ${c.id.padEnd(width)}  ${c.reason}`);
  if (r.changes.length > 0) {
    lines.push("changed:");
    for (const ch of r.changes) lines.push(`  ${ch.object}: ${ch.path}: ${ch.from} -> ${ch.to}`);
  }
  if (url) lines.push(`url: ${url}`);
  if (!r.blocked && flags.output)
    lines.push(`wrote ${flags.output} (mode 0600: it holds the snapshot URL and the key)`);
  for (const a of applied ?? []) lines.push(`${a.result}: ${a.object}`);
  return lines.join("\n");
}
