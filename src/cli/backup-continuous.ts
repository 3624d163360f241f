import type { BackupResult } from "../backup/etcd-backup.js";
import type { BaseCoverage, SegmentRecord } from "../continuous/segment.js";
import { durationFlag, FULL_EVERY_RANGE, SEGMENT_RANGE } from "../duration.js";
import { CancelledError, UsageError } from "../errors.js";
import { DEFAULT_WRITERS } from "../hostedcluster/names.js";
import type { Store } from "../store/store.js";
import { type HostedFlags, hostedBackupSettings } from "./backup-hosted.js";
import type { CliContext } from "./context.js";
import { type MetricsFlags, type MetricsReport, metricsReport } from "./metrics-options.js";
import { type EtcdFlags, etcdConnection, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

export interface ContinuousFlags extends Omit<EtcdFlags, "key">, StoreFlags, MetricsFlags {
  key?: string | boolean;
  to: string;
  name: string;
  member?: string;
  segment?: string;
  segmentMax?: string;
  fullEvery?: string;
  output?: "text" | "json";
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `8MiB`, `512KiB`, `1048576`: a segment size from 64 KiB to 1 GiB. */
export function segmentSizeFlag(value: string): number {
  const m = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(value.trim());
  const bytes = m ? Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] as number) : Number.NaN;
  if (!(bytes >= 64 * 1024 && bytes <= 1024 ** 3))
    throw new UsageError(`--segment-max must be a size from 64KiB to 1GiB, like 8MiB, got "${value}"`);
  return bytes;
}

interface ChainSettings {
  readonly segmentMs: number;
  readonly segmentMaxBytes: number;
  readonly fullEveryMs?: number;
}

function chainSettings(flags: { segment?: string; segmentMax?: string; fullEvery?: string }): ChainSettings {
  const segmentMs = durationFlag("--segment", flags.segment ?? "10s", "10s or 1m", SEGMENT_RANGE);
  const segmentMaxBytes = segmentSizeFlag(flags.segmentMax ?? "8MiB");
  if (flags.fullEvery === undefined) return { segmentMs, segmentMaxBytes };
  return {
    segmentMs,
    segmentMaxBytes,
    fullEveryMs: durationFlag("--full-every", flags.fullEvery, "6h or 1d", FULL_EVERY_RANGE),
  };
}

/**
 * What the follower tells: a line each, text or (with -o json, the Deployment's log) one JSON object
 * each; and the metrics of each full backup and segment, published as they commit (and as an idle
 * etcd's coverage is extended).
 */
function reporters(store: Store, json: boolean, metrics: MetricsReport, target: { cluster: string; store: string }) {
  const say = (text: string, event: Record<string, unknown>) => write(json ? toJson(event) : text);
  return {
    onResume: (folder: string, from: number) =>
      say(`resuming the chain of ${store.urlOf(folder)} at revision ${from}`, {
        event: "resume",
        ref: store.urlOf(folder),
        fromRevision: from,
      }),
    onFullBackup: (r: BackupResult, why: string) => {
      say(`full backup ${r.manifest.backupId} at revision ${r.manifest.snapshot.revision} (${why}): ${r.ref}`, {
        event: "full-backup",
        ref: r.ref,
        backupId: r.manifest.backupId,
        revision: r.manifest.snapshot.revision,
        why,
      });
      metrics.succeeded(target, () => r.manifest)(r);
      void metrics.publishSoon();
    },
    onSegment: (s: SegmentRecord) => {
      say(`segment ${s.fromRevision}-${s.toRevision} committed: ${s.events} changes, ${s.bytes} bytes`, {
        event: "segment",
        fromRevision: s.fromRevision,
        toRevision: s.toRevision,
        changes: s.events,
        bytes: s.bytes,
      });
      metrics.segmentCommitted(target, s);
      // Not awaited: the watch goes on while the metrics go out (publishing never throws).
      void metrics.publishSoon();
    },
    // No line of its own: one per idle interval would drown the log; the metrics and `list` show it.
    onCoverage: (s: SegmentRecord) => {
      metrics.segmentCommitted(target, s);
      void metrics.publishSoon();
    },
    // The same before the chain's first segment: the base's coverage.
    onBaseCoverage: (c: BaseCoverage) => {
      metrics.baseCovered(target, c);
      void metrics.publishSoon();
    },
  };
}

/** Runs the follower; a failure other than a stop is a failed run in the metrics, published before exit. */
async function counted(
  follower: Promise<unknown>,
  metrics: MetricsReport,
  target: { cluster: string; store: string },
): Promise<void> {
  try {
    await follower;
  } catch (err) {
    // A stop (SIGTERM) is how it ends normally; anything else is a failed run.
    if (err instanceof CancelledError) throw err;
    metrics.failed(target)(err);
  } finally {
    // What the last segment (the one a stop commits) set is published before the process exits.
    await metrics.publishSoon();
  }
}

/** `backup --continuous`: runs until a signal; each full backup and segment is a line on stdout. */
export async function runContinuous(flags: ContinuousFlags, ctx: CliContext): Promise<void> {
  const settings = chainSettings(flags);
  const metrics = await metricsReport(flags, ctx);
  const conn = await etcdConnection({ ...flags, key: typeof flags.key === "string" ? flags.key : undefined });
  const { openStore } = await import("../store/open-store.js");
  const { followEtcd } = await import("../continuous/follow.js");
  const store = openStore(flags.to, storeSettings(flags));
  const target = { cluster: flags.name, store: store.url };
  await counted(
    followEtcd({
      ...conn,
      store,
      label: flags.name,
      member: flags.member,
      signal: ctx.signal,
      logger: ctx.logger,
      ...settings,
      ...reporters(store, flags.output === "json", metrics, target),
    }),
    metrics,
    target,
  );
}

/**
 * `backup <hosted-cluster> -n <ns> --continuous`: online full backups as `backup` takes them (key
 * saved, manifest of a hosted cluster), the chain followed from etcd reached as they reach it, and
 * the chain Lease in the control-plane namespace held throughout: a second process refuses.
 */
export async function runHostedContinuous(
  name: string,
  flags: HostedFlags & { to: string; segment?: string; segmentMax?: string; fullEvery?: string },
  ctx: CliContext,
): Promise<void> {
  if (!flags.namespace) throw new UsageError(`missing -n/--namespace: the namespace of the HostedCluster ${name}`);
  const namespace = flags.namespace;
  const settings = chainSettings(flags);
  const { cluster, shared } = await hostedBackupSettings({ ...flags, mode: "online" }, ctx);
  const metrics = await metricsReport(flags, ctx);
  const metricsTarget = { cluster: `${namespace}/${name}`, store: shared.store.url };
  const [
    { followEtcd, connectFirstAnswering },
    { takeChainLease },
    { backupHostedCluster },
    { discoverHostedCluster },
    { reachEtcd },
  ] = await Promise.all([
    import("../continuous/follow.js"),
    import("../continuous/chain-lease.js"),
    import("../backup/hosted-backup.js"),
    import("../hostedcluster/discovery.js"),
    import("../hostedcluster/etcd-access.js"),
  ]);
  const target = await discoverHostedCluster(cluster, namespace, name, {
    writers: shared.writers ?? [...DEFAULT_WRITERS],
    signal: ctx.signal,
  });
  const lease = await takeChainLease({
    cluster,
    namespace: target.hcpNamespace,
    signal: ctx.signal,
    logger: ctx.logger,
  });
  const signal = AbortSignal.any([ctx.signal, lease.lost]);
  try {
    const follower = followEtcd({
      store: shared.store,
      label: `${namespace}/${name}`,
      endpoints: [],
      signal,
      lost: lease.lost,
      logger: ctx.logger,
      ...settings,
      ...reporters(shared.store, flags.output === "json", metrics, metricsTarget),
      takeFullBackup: async (fullSignal) => {
        const r = await backupHostedCluster({
          ...shared,
          mode: "online",
          cluster,
          namespace,
          name,
          endpoints: flags.endpoints,
          signal: fullSignal,
          logger: ctx.logger,
        });
        if (r.dryRun) throw new UsageError("--dry-run does not go with --continuous");
        return { ref: r.ref, manifest: r.manifest };
      },
      openClient: async () => {
        const access = await reachEtcd(cluster, target, {
          endpoints: flags.endpoints,
          portForward: flags.portForward,
          logger: ctx.logger,
          ...(signal ? { signal } : {}),
        });
        try {
          const client = await connectFirstAnswering(access.endpoints, access.connect, signal);
          return {
            client,
            close: async () => {
              client.close();
              await access.close();
            },
          };
        } catch (err) {
          await access.close();
          throw err;
        }
      },
    });
    await counted(follower, metrics, metricsTarget);
  } catch (err) {
    // Stopped because the Lease was lost: that is the error to report, not the cancellation it caused.
    if (lease.lost.aborted && !ctx.signal.aborted && !(lease.lost.reason instanceof CancelledError))
      throw lease.lost.reason;
    throw err;
  } finally {
    await lease.release();
  }
}
