import { backupHostedCluster, type HostedBackupRequest, type HostedBackupResult } from "../backup/hosted-backup.js";
import { allowListeners, childSignal, mapBounded } from "../concurrency.js";
import { CancelledError, describe, HcpError } from "../errors.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import { type Logger, silentLogger } from "../logging.js";
import { type FleetMember, type FleetScope, listFleet } from "./hosted-clusters.js";

/** What every cluster's backup shares: the single-cluster request without the cluster it names. */
export type SharedBackupOptions = Omit<
  HostedBackupRequest,
  "cluster" | "namespace" | "name" | "signal" | "logger" | "onProgress" | "endpoints"
>;

export interface FleetBackupRequest {
  readonly cluster: ManagementCluster;
  readonly scope: Omit<FleetScope, "signal">;
  /**
   * Backups running at once (>= 1). Memory grows by one snapshot stream per slot (the store's part
   * buffers), never with the number of clusters.
   */
  readonly parallel: number;
  readonly backup: SharedBackupOptions;
  /** Aborts every running backup (each resumes its cluster first) and starts no more. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Called as each cluster finishes, in completion order. */
  readonly onResult?: (result: ClusterResult) => void;
  /** Sees each cluster's backup as it settles (metrics record it); must pass its result or error on. */
  readonly observe?: (cluster: string, backup: Promise<HostedBackupResult>) => Promise<HostedBackupResult>;
}

interface ResultBase {
  /** `<namespace>/<name>`: also the backup's label in the store. */
  readonly cluster: string;
  readonly seconds: number;
}

export type ClusterResult = ResultBase &
  (
    | {
        readonly status: "ok";
        readonly ref: string;
        readonly backupId: string;
        readonly size: number;
        readonly revision: number;
        readonly writerDowntimeSeconds?: number;
        readonly etcdAccess: string;
      }
    | { readonly status: "planned"; readonly steps: readonly string[] }
    | { readonly status: "failed"; readonly error: string; readonly exitCode: number }
    | { readonly status: "skipped"; readonly reason: string }
    /** Not started, or stopped by the signal after its cluster was resumed. */
    | { readonly status: "cancelled" }
  );

export interface FleetBackupReport {
  /** One per hosted cluster in scope, sorted by namespace and name. */
  readonly results: readonly ClusterResult[];
  readonly failed: number;
  readonly seconds: number;
}

/**
 * Backs up every hosted cluster in scope, each exactly as `backup <cluster> -n <ns>` does it
 * (`backupHostedCluster`: its own lock, pause, resume, verification and manifest), at most
 * `parallel` at once. One cluster's failure is recorded and the others go on; nothing here throws
 * once the list is read.
 */
export async function backupAll(req: FleetBackupRequest): Promise<FleetBackupReport> {
  const logger = req.logger ?? silentLogger();
  const t0 = Date.now();
  const members = await listFleet(req.cluster, { ...req.scope, signal: req.signal });
  logger.info(
    { clusters: members.length, skipped: members.filter((m) => m.skip).length, parallel: req.parallel },
    "hosted clusters listed",
  );
  allowListeners(req.signal, req.parallel);
  const results = await mapBounded(members, req.parallel, async (member) => {
    const result = await backupOne(req, member, logger);
    if (result.status === "failed") logger.warn({ cluster: result.cluster, error: result.error }, "backup failed");
    else logger.info({ cluster: result.cluster, status: result.status }, "cluster done");
    req.onResult?.(result);
    return result;
  });
  return {
    results,
    failed: results.filter((r) => r.status === "failed").length,
    seconds: (Date.now() - t0) / 1000,
  };
}

async function backupOne(req: FleetBackupRequest, member: FleetMember, logger: Logger): Promise<ClusterResult> {
  const cluster = `${member.namespace}/${member.name}`;
  const t0 = Date.now();
  const seconds = () => (Date.now() - t0) / 1000;
  if (member.skip) return { cluster, seconds: 0, status: "skipped", reason: member.skip };
  if (req.signal?.aborted) return { cluster, seconds: 0, status: "cancelled" };
  const own = childSignal(req.signal);
  try {
    const backup = backupHostedCluster({
      ...req.backup,
      cluster: req.cluster,
      namespace: member.namespace,
      name: member.name,
      signal: own.signal,
      logger: logger.child({ cluster }),
    });
    const r = await (req.observe ? req.observe(cluster, backup) : backup);
    if (r.dryRun) return { cluster, seconds: seconds(), status: "planned", steps: r.plan.steps };
    const m = r.manifest;
    return {
      cluster,
      seconds: seconds(),
      status: "ok",
      ref: r.ref,
      backupId: m.backupId,
      size: m.snapshot.objectSize,
      revision: m.snapshot.revision,
      ...(m.writerDowntime ? { writerDowntimeSeconds: m.writerDowntime.seconds } : {}),
      etcdAccess: r.access,
    };
  } catch (err) {
    // Cancelled and resumed is not a failure of the cluster; a resume that failed too is (its message says so).
    if (req.signal?.aborted && err instanceof CancelledError)
      return { cluster, seconds: seconds(), status: "cancelled" };
    return {
      cluster,
      seconds: seconds(),
      status: "failed",
      error: describe(err).split("\n")[0] ?? "",
      exitCode: err instanceof HcpError ? err.exitCode : 1,
    };
  } finally {
    own.release();
  }
}
