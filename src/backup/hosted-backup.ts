import { describe, NotRestoredError, OperationError, UsageError } from "../errors.js";
import { type MemberSurvey, requireAnswers, snapshotCandidates, surveyFields, surveyMembers } from "../etcd/survey.js";
import { discoverHostedCluster, type HostedClusterTarget } from "../hostedcluster/discovery.js";
import { type EtcdAccess, reachEtcd } from "../hostedcluster/etcd-access.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import { DEFAULT_WRITERS } from "../hostedcluster/names.js";
import { QuiesceSession, type QuiesceTimeouts } from "../hostedcluster/quiesce-session.js";
import { type Logger, silentLogger } from "../logging.js";
import { backupFolder, backupId, validateLabel } from "../store/layout.js";
import type { Manifest } from "../store/manifest.js";
import { SNAPSHOT_FILE } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { type CapturedSnapshot, captureSnapshot, captureWithFallback } from "./capture.js";
import { commitManifest } from "./etcd-backup.js";
import {
  checkKeyStore,
  type KeyDestination,
  type KeyRequest,
  keyStep,
  prepareKeys,
  requireKeyDestination,
  storeKeys,
} from "./hosted-keys.js";
import { buildManifest } from "./manifest-builder.js";
import { PhaseTimer } from "./phases.js";
import {
  atSurveyRevision,
  confirmQuiet,
  NotQuietError,
  type QuietProbe,
  requireSnapshotAtSurvey,
  surveyUntilQuiet,
} from "./quiet-proof.js";
import type { VerifiedSnapshot } from "./verified-stream.js";

export type { KeyDestination } from "./hosted-keys.js";

export interface HostedBackupRequest extends KeyRequest {
  readonly cluster: ManagementCluster;
  readonly namespace: string;
  readonly name: string;
  readonly store: Store;
  readonly mode: "quiesced" | "online";
  readonly writers?: readonly string[];
  /** How long the pause lasts if this process dies (default 30 min): reconciliation resumes by itself then. */
  readonly pauseTimeoutMs?: number;
  readonly endpoints?: string;
  readonly portForward?: boolean;
  /** One snapshot per member, as the documented procedure takes them (the leader's is the restore candidate). */
  readonly allMembers?: boolean;
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Registers the resume with the process owner, so a signal that outruns the work still brings the cluster back. */
  readonly defer?: (name: string, cleanup: () => Promise<void>) => () => void;
  readonly onProgress?: (bytes: number, total: number) => void;
  readonly timeouts?: Partial<Timeouts>;
  readonly now?: () => Date;
  readonly pollMs?: number;
}

export interface Timeouts extends QuiesceTimeouts {
  /** etcd quiet: the members at one revision, proven twice and held by the snapshot (captures retried within it). */
  readonly revisionsAgree: number;
}

const DEFAULT_TIMEOUTS: Timeouts = {
  pauseReached: 120_000,
  writersGone: 300_000,
  revisionsAgree: 60_000,
  writersAvailable: 600_000,
};

/** Captures tried while etcd should be quiet, each after a proof that it is (all within `revisionsAgree`). */
const CAPTURE_ATTEMPTS = 3;

export interface HostedBackupPlan {
  readonly cluster: string;
  readonly hcpNamespace: string;
  readonly mode: "quiesced" | "online";
  readonly etcdMembers: readonly string[];
  readonly writers: ReadonlyArray<{ name: string; replicas: number }>;
  readonly encryption: HostedClusterTarget["encryption"]["type"];
  readonly keyDestination: KeyDestination["kind"];
  readonly steps: readonly string[];
}

export type HostedBackupResult =
  | { readonly dryRun: true; readonly plan: HostedBackupPlan }
  | {
      readonly dryRun: false;
      readonly plan: HostedBackupPlan;
      readonly ref: string;
      readonly manifest: Manifest;
      readonly access: EtcdAccess["how"];
    };

/**
 * Backs up a hosted cluster's etcd: the documented procedure, made safe. Quiesced (default):
 * lock and journal, pause with a deadline, wait for the pause to reach the HostedControlPlane,
 * scale the writers to zero, prove writes stopped (every member at one revision, twice), capture and
 * verify the snapshot, resume at once, then store the key and commit the manifest. Whatever fails
 * after the first change — an error, a signal — the cluster is resumed first, then the error is
 * reported. Online skips pause and resume (etcd snapshots are point-in-time consistent).
 */
export async function backupHostedCluster(req: HostedBackupRequest): Promise<HostedBackupResult> {
  const logger = req.logger ?? silentLogger();
  const now = req.now ?? (() => new Date());
  const timeouts = { ...DEFAULT_TIMEOUTS, ...req.timeouts };
  const pauseTimeoutMs = req.pauseTimeoutMs ?? 30 * 60_000;
  if (req.mode === "quiesced") requirePauseCoversPhases(pauseTimeoutMs, timeouts);
  const label = validateLabel(`${req.namespace}/${req.name}`);
  const startedAt = now();
  const timer = new PhaseTimer();
  const timed = <T>(phase: string, work: () => Promise<T>) => timer.time(phase, work);

  // Reads only, until the lock: discover, plan, check the stores, read and seal the key.
  const target = await timed("discover", () =>
    discoverHostedCluster(req.cluster, req.namespace, req.name, {
      writers: req.writers ?? DEFAULT_WRITERS,
      signal: req.signal,
    }),
  );
  logDiscovered(logger, label, target);
  requireKeyDestination(req, target, label, logger);
  const plan = makePlan(req, target);
  if (req.dryRun) return { dryRun: true, plan };
  await req.store.check({ signal: req.signal });
  await checkKeyStore(req);
  const keys = await timed("read-key", () => prepareKeys(req, target));
  const session =
    req.mode === "quiesced"
      ? await QuiesceSession.open({ ...req, target, logger, pauseTimeoutMs, timeouts })
      : undefined;

  let access: EtcdAccess | undefined;
  try {
    // etcd must answer before anything changes: a backup bound to fail must not take the API servers down.
    access = await reachEtcd(req.cluster, target, {
      endpoints: req.endpoints,
      portForward: req.portForward,
      logger,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    const first = await surveyReachable(access, logger, req.signal);
    await session?.start(timed);
    const probe: QuietProbe = { access, logger, signal: req.signal, pollMs: req.pollMs };
    const captured = session
      ? await captureQuiesced(req, probe, session, label, timeouts, timed)
      : await captureOnline(req, probe, first, label, timed);
    if (session) await timed("resume", () => session.resume(true));
    const encryption = await timed("store-key", () => storeKeys(keys, captured.folder, req.signal));
    const manifest = buildManifest({
      backupId: captured.id,
      label,
      mode: req.mode,
      source: {
        kind: "hosted-cluster",
        endpoints: access.endpoints.map((e) => e.url),
        namespace: req.namespace,
        name: req.name,
        uid: target.uid,
        hcpNamespace: target.hcpNamespace,
      },
      captured: captured.leader,
      members: captured.survey.members,
      memberSnapshots: req.allMembers ? captured.others : undefined,
      startedAt,
      finishedAt: now(),
      phases: timer.seconds,
      writerDowntime: session?.downtime,
      encryption,
      objectLock: req.store.objectLock,
    });
    await commitManifest(req.store, captured.folder, manifest, req.signal);
    const ref = req.store.urlOf(captured.folder);
    logger.info(
      { ref, backupId: captured.id, writerDowntimeSeconds: manifest.writerDowntime?.seconds },
      "manifest committed",
    );
    return { dryRun: false, plan, ref, manifest, access: access.how };
  } catch (err) {
    if (session?.changed) await resumeAfterFailure(session, err, label, req, logger);
    throw err;
  } finally {
    session?.close();
    await access?.close();
  }
}

function logDiscovered(logger: Logger, label: string, target: HostedClusterTarget): void {
  logger.info(
    {
      cluster: label,
      hcpNamespace: target.hcpNamespace,
      etcdMembers: target.etcdPods.map((p) => p.name),
      writers: target.writers,
      encryption: target.encryption.type,
    },
    "hosted cluster discovered",
  );
}

/** The first survey: every member is asked once, before anything changes (online, it is the one to snapshot from). */
async function surveyReachable(access: EtcdAccess, logger: Logger, signal?: AbortSignal): Promise<MemberSurvey> {
  const first = requireAnswers(await surveyMembers(access.endpoints, access.connect, { signal }));
  logger.info({ how: access.how, endpoints: access.endpoints.map((e) => e.url) }, "etcd reachable");
  logger.info(surveyFields(first), "members surveyed");
  return first;
}

/** Resumes the cluster after a failure; a resume that fails too names both and the command that finishes it. */
async function resumeAfterFailure(
  session: QuiesceSession,
  err: unknown,
  label: string,
  req: HostedBackupRequest,
  logger: Logger,
): Promise<void> {
  logger.warn({ error: describe(err) }, "backup failed: resuming the hosted cluster first");
  try {
    await session.resume(!req.signal?.aborted);
  } catch (resumeErr) {
    if (resumeErr === err) throw err;
    throw new NotRestoredError(
      `${describe(err)}; resuming ${label} failed too (${describe(resumeErr)}): run hcp-etcd-backup resume ${req.name} -n ${req.namespace}`,
      { cause: err },
    );
  }
}

interface Captured {
  readonly id: string;
  readonly folder: string;
  readonly survey: MemberSurvey;
  readonly leader: CapturedSnapshot;
  readonly others: CapturedSnapshot[];
}

function placed(req: HostedBackupRequest, label: string, survey: MemberSurvey) {
  const id = backupId((req.now ?? (() => new Date()))(), survey.members[0]?.status.revision ?? 0);
  return { id, folder: backupFolder(label, id) };
}

function split(at: { id: string; folder: string }, survey: MemberSurvey, captures: CapturedSnapshot[]): Captured {
  const [leader, ...others] = captures;
  if (!leader) throw new OperationError("no snapshot was captured");
  return { ...at, survey, leader, others };
}

/** Online, the survey that proved etcd reachable is the one to snapshot from: the writers keep running. */
async function captureOnline(
  req: HostedBackupRequest,
  probe: QuietProbe,
  survey: MemberSurvey,
  label: string,
  timed: <T>(phase: string, work: () => Promise<T>) => Promise<T>,
): Promise<Captured> {
  const at = placed(req, label, survey);
  return split(at, survey, await timed("capture", () => captureMembers(req, probe, survey, at.folder, () => {})));
}

/**
 * Quiesced: the members are asked until they agree, a second survey at least a second later (taken
 * while the snapshot streams, so it costs no downtime unless the snapshot is faster) must agree
 * with it, and the snapshot must hold their revision. The writers come back as soon as the last
 * snapshot is proven. Something that still writes fails a proof: the capture is tried again while
 * the phase's time lasts, then the error stands (and the caller resumes).
 */
async function captureQuiesced(
  req: HostedBackupRequest,
  probe: QuietProbe,
  session: QuiesceSession,
  label: string,
  timeouts: Timeouts,
  timed: <T>(phase: string, work: () => Promise<T>) => Promise<T>,
): Promise<Captured> {
  const deadline = Date.now() + timeouts.revisionsAgree;
  for (let attempt = 1; ; attempt++) {
    const survey = await timed("survey", () => surveyUntilQuiet(probe, deadline, timeouts.revisionsAgree));
    const confirmed = confirmQuiet(probe, survey, Date.now());
    confirmed.catch(() => {}); // awaited below; a failed capture must not leave it unhandled
    const at = placed(req, label, survey);
    try {
      const captures = await timed("capture", () =>
        captureMembers(req, probe, survey, at.folder, (last) => {
          // Every byte is here and proven, quiet twice and at the surveys' revision: the writers come back now.
          if (atSurveyRevision(last.status.revision, survey))
            void confirmed.then(() => session.resume(true)).catch(() => {});
        }),
      );
      await confirmed;
      requireSnapshotAtSurvey(captures, survey);
      return split(at, survey, captures);
    } catch (err) {
      if (!(err instanceof NotQuietError) || session.resumed || attempt >= CAPTURE_ATTEMPTS || Date.now() >= deadline)
        throw err;
      probe.logger.warn({ attempt, error: describe(err) }, "etcd was not quiet: capturing again");
      await discard(req.store, at.folder, probe.logger);
    }
  }
}

/** The snapshot of a failed attempt is never committed: its objects go, so the folder holds nothing. */
async function discard(store: Store, folder: string, logger: Logger): Promise<void> {
  try {
    const keys: string[] = [];
    for await (const o of store.list(`${folder}/`)) keys.push(o.key);
    if (keys.length > 0) await store.delete(keys);
  } catch (err) {
    // Uncommitted objects are garbage, not a backup: prune removes them; the retry goes on.
    logger.warn({ folder, error: describe(err) }, "could not remove the uncommitted snapshot");
  }
}

function makePlan(req: HostedBackupRequest, t: HostedClusterTarget): HostedBackupPlan {
  const steps =
    req.mode === "quiesced"
      ? [
          `lock ${t.namespace}/${t.name} and journal its pausedUntil (${t.hostedCluster.spec.pausedUntil ?? "unset"}) and writer replicas`,
          `pause reconciliation until now + ${Math.round((req.pauseTimeoutMs ?? 1_800_000) / 60_000)} min and wait for the HostedControlPlane to show it`,
          `scale ${t.writers.map((w) => `${w.name} (${w.replicas})`).join(", ")} to 0 and wait for their pods to go`,
          "wait until every etcd member reports the same revision",
          `stream and verify ${req.allMembers ? "a snapshot of every member" : "the leader's snapshot"} into ${req.store.url}`,
          "resume: restore the replicas and pausedUntil, wait for the writers, remove the journal",
          keyStep(req, t),
          "write the manifest",
        ]
      : [
          `stream and verify ${req.allMembers ? "a snapshot of every member" : "the leader's snapshot"} into ${req.store.url} (online: the writers keep running)`,
          keyStep(req, t),
          "write the manifest",
        ];
  return {
    cluster: `${t.namespace}/${t.name}`,
    hcpNamespace: t.hcpNamespace,
    mode: req.mode,
    etcdMembers: t.etcdPods.map((p) => p.name),
    writers: t.writers,
    encryption: t.encryption.type,
    keyDestination: req.key.kind,
    steps,
  };
}

/** The phases the pause must outlast: reaching the HostedControlPlane, the writers going, etcd going quiet. */
export function requirePauseCoversPhases(pauseTimeoutMs: number, t: Timeouts): void {
  const phases = t.pauseReached + t.writersGone + t.revisionsAgree;
  if (pauseTimeoutMs >= phases) return;
  const min = (ms: number) => `${Math.ceil(ms / 60_000)}m`;
  throw new UsageError(
    `--pause-timeout ${min(pauseTimeoutMs)} is shorter than the phases it must cover (pause ${min(t.pauseReached)}, writers gone ${min(t.writersGone)}, etcd quiet ${min(t.revisionsAgree)}: ${min(phases)}): the pause could end mid-snapshot; use at least ${min(phases)}`,
  );
}

async function captureMembers(
  req: HostedBackupRequest,
  probe: QuietProbe,
  survey: MemberSurvey,
  folder: string,
  onAllVerified: (last: VerifiedSnapshot) => void,
): Promise<CapturedSnapshot[]> {
  const queue = snapshotCandidates(survey);
  if (queue.length === 0) throw new OperationError("no healthy voting etcd member to snapshot");
  const capture = (member: (typeof queue)[number], object: string, last: boolean) =>
    captureSnapshot({
      connect: probe.access.connect,
      member,
      store: req.store,
      objectKey: () => `${folder}/${object}`,
      logger: probe.logger,
      signal: req.signal,
      onProgress: req.onProgress,
      onVerified: last ? onAllVerified : undefined,
    });
  if (req.allMembers) {
    const out: CapturedSnapshot[] = [];
    for (const [i, member] of queue.entries()) {
      out.push(await capture(member, i === 0 ? SNAPSHOT_FILE : `snapshot-${member.name}.db`, i === queue.length - 1));
    }
    return out;
  }
  // The leader first; a member that fails mid-stream hands over to the next (same revision: writes are stopped).
  return [await captureWithFallback(queue, (member) => capture(member, SNAPSHOT_FILE, true), probe.logger)];
}
