import { randomBytes } from "node:crypto";
import { CancelledError, describe, EtcdError, NotRestoredError, OperationError, UsageError } from "../errors.js";
import {
  type MemberSurvey,
  requireAnswers,
  revisionsAgree,
  snapshotCandidates,
  surveyFields,
  surveyMembers,
} from "../etcd/survey.js";
import { discoverHostedCluster, type HostedClusterTarget, readEncryptionKeys } from "../hostedcluster/discovery.js";
import { aescbcKeyName, keyFingerprint } from "../hostedcluster/encryption-key.js";
import { type EtcdAccess, reachEtcd } from "../hostedcluster/etcd-access.js";
import type { Journal } from "../hostedcluster/journal.js";
import { sealKey } from "../hostedcluster/key-envelope.js";
import type { ManagementCluster } from "../hostedcluster/kube.js";
import { DEFAULT_WRITERS } from "../hostedcluster/names.js";
import {
  lockAndJournal,
  pause,
  type QuiesceContext,
  readJournal,
  resumeFromJournal,
  scaleWritersDown,
  waitForPause,
  waitForWritersGone,
} from "../hostedcluster/quiesce.js";
import { requireSkewWithin, type ServerClock, serverClock } from "../hostedcluster/server-clock.js";
import { type Logger, silentLogger } from "../logging.js";
import { backupFolder, backupId, validateLabel } from "../store/layout.js";
import type { EncryptionFacts, Manifest } from "../store/manifest.js";
import { SNAPSHOT_FILE } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { type CapturedSnapshot, captureSnapshot, captureWithFallback } from "./capture.js";
import { commitManifest } from "./etcd-backup.js";
import { buildManifest } from "./manifest-builder.js";
import { PhaseTimer } from "./phases.js";

export const KEY_OBJECT = "encryption-key.age";
export const RAW_KEY_OBJECT = "encryption-key";

/** Where the aescbc key goes: sealed to age recipients beside the snapshot, raw (0600) into another store, or nowhere. */
export type KeyDestination =
  | { readonly kind: "recipients"; readonly recipients: readonly string[] }
  | { readonly kind: "store"; readonly store: Store }
  | { readonly kind: "none" };

export interface HostedBackupRequest {
  readonly cluster: ManagementCluster;
  readonly namespace: string;
  readonly name: string;
  readonly store: Store;
  readonly mode: "quiesced" | "online";
  readonly key: KeyDestination;
  /**
   * Refuse an aescbc cluster whose key has no destination, before any change (true unless the
   * user said --no-key): a backup without its key cannot be restored.
   */
  readonly keyRequired?: boolean;
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

export interface Timeouts {
  readonly pauseReached: number;
  readonly writersGone: number;
  readonly revisionsAgree: number;
  readonly writersAvailable: number;
}

const DEFAULT_TIMEOUTS: Timeouts = {
  pauseReached: 120_000,
  writersGone: 300_000,
  revisionsAgree: 60_000,
  writersAvailable: 600_000,
};

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
 * scale the writers to zero, prove writes stopped (every member at one revision), capture and
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
  const phases = timer.seconds;
  const timed = <T>(phase: string, work: () => Promise<T>) => timer.time(phase, work);

  // Phase 1: discover (reads only).
  const target = await timed("discover", () =>
    discoverHostedCluster(req.cluster, req.namespace, req.name, {
      writers: req.writers ?? DEFAULT_WRITERS,
      signal: req.signal,
    }),
  );
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
  if (target.encryption.type === "aescbc" && req.key.kind === "none") {
    if (req.keyRequired !== false)
      throw new UsageError(
        `${label} encrypts its secrets with aescbc: say where its key goes (--key-recipient age1... or --key-to DIR), or --no-key to back up without it`,
      );
    logger.warn(
      { cluster: label },
      "the encryption key is not saved (--no-key): this backup restores only with the key kept elsewhere",
    );
  }
  // Phase 2: plan.
  const plan = makePlan(req, target);
  if (req.dryRun) return { dryRun: true, plan };
  await req.store.check({ signal: req.signal });
  if (req.key.kind === "store") {
    if (sameOrNested(req.key.store.url, req.store.url))
      throw new UsageError(
        `--key-to ${req.key.store.url} is the backup store (or inside it): the raw key must go elsewhere`,
      );
    await req.key.store.check({ signal: req.signal });
  }
  // The key is read and sealed before anything changes: a backup that cannot save it stops here.
  const keys = await timed("read-key", () => prepareKeys(req, target));

  // Deadlines (pausedUntil, the lock's expiry) are the API server's time: HyperShift and other runs judge them by it.
  let clock: ServerClock | undefined;
  if (req.mode === "quiesced") {
    clock = serverClock(await req.cluster.dateSample(req.signal), logger, Date.now, req.cluster.server);
    requireSkewWithin(clock, pauseTimeoutMs);
  }
  const ctx: QuiesceContext = {
    cluster: req.cluster,
    target,
    logger,
    signal: req.signal,
    now: clock?.now,
    pollMs: req.pollMs,
  };
  // Resume runs without the run's signal: after a Ctrl-C it must still reach the API.
  const resumeCtx: QuiesceContext = { ...ctx, signal: undefined };
  /** Our journal as last intended (set before each request, so a lost reply is still undone). */
  let journal: Journal | undefined;
  /** The lock is ours: only then may our own copy of the journal stand in for an unreadable stored one. */
  let locked = false;
  const onJournal = (j: Journal) => {
    journal = j;
  };
  let downtimeStart: Date | undefined;
  let downtimeEnd: Date | undefined;
  let resuming: Promise<void> | undefined;
  const resume = (waitAvailable: boolean): Promise<void> => {
    if (!journal) return Promise.resolve();
    const local = journal;
    resuming ??= (async () => {
      // The journal on the HostedCluster is the truth (another `resume` may have run); our copy
      // stands in only when it cannot be read and the lock was ours.
      const stored = await readJournal(req.cluster, req.namespace, req.name).then(
        (r) => r.journal,
        () => (locked ? local : undefined),
      );
      if (stored && stored.runId === local.runId) {
        await resumeFromJournal(resumeCtx, stored, {
          availableTimeoutMs: timeouts.writersAvailable,
          waitAvailable,
          waitSignal: req.signal,
        });
      }
      downtimeEnd ??= now();
    })();
    return resuming;
  };
  const undefer = req.mode === "quiesced" ? req.defer?.("resume the hosted cluster", () => resume(false)) : undefined;

  let access: EtcdAccess | undefined;
  try {
    // etcd must answer before anything changes: a backup bound to fail must not take the API servers down.
    access = await reachEtcd(req.cluster, target, {
      endpoints: req.endpoints,
      portForward: req.portForward,
      logger,
    });
    const reached = access;
    const first = requireAnswers(await surveyMembers(reached.endpoints, reached.connect, { signal: req.signal }));
    logger.info({ how: reached.how, endpoints: reached.endpoints.map((e) => e.url) }, "etcd reachable");
    logger.info(surveyFields(first), "members surveyed");
    if (req.mode === "quiesced") {
      await timed("lock", () =>
        lockAndJournal(
          ctx,
          {
            runId: `${startedAt.toISOString()}-${randomBytes(3).toString("hex")}`,
            mode: req.mode,
            lockMs: pauseTimeoutMs + 5 * 60_000,
          },
          onJournal,
        ),
      );
      locked = true;
      await timed("pause", async () => {
        const paused = await pause(ctx, journal as Journal, pauseTimeoutMs, onJournal);
        await waitForPause(ctx, paused.pausedUntil, timeouts.pauseReached);
      });
      downtimeStart = now();
      await timed("scale-down", async () => {
        await scaleWritersDown(ctx, journal as Journal, onJournal);
        await waitForWritersGone(ctx, timeouts.writersGone);
      });
    }
    // Online, the survey that proved etcd reachable is the one to snapshot from; quiesced, the members are
    // asked again until they agree, now that nothing writes.
    const survey =
      req.mode === "online" ? first : await timed("survey", () => surveyUntilQuiet(req, reached, logger, timeouts));
    // Quiesced, one quiet survey is not proof: a second one at least a second later, taken while the
    // snapshot streams (so it costs no downtime unless the snapshot is faster), must agree with it.
    const confirmed = req.mode === "quiesced" ? confirmQuiet(req, reached, survey, Date.now(), logger) : undefined;
    confirmed?.catch(() => {}); // awaited below; a failed capture must not leave it unhandled
    const id = backupId(now(), survey.members[0]?.status.revision ?? 0);
    const folder = backupFolder(label, id);
    const captures = await timed("capture", () =>
      captureMembers(req, reached, survey, folder, logger, () => {
        // Every byte is here and proven, and quiet twice: the writers come back now, while the upload finishes.
        if (confirmed) void confirmed.then(() => resume(true)).catch(() => {});
      }),
    );
    if (confirmed) {
      await confirmed;
      requireSnapshotAtSurvey(captures, survey);
      await timed("resume", () => resume(true));
    }
    const encryption = await timed("store-key", () => storeKeys(req, keys, folder));
    const finishedAt = now();
    const [leader, ...others] = captures;
    if (!leader) throw new OperationError("no snapshot was captured");
    const manifest = buildManifest({
      backupId: id,
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
      captured: leader,
      members: survey.members,
      memberSnapshots: req.allMembers ? others : undefined,
      startedAt,
      finishedAt,
      phases,
      writerDowntime: downtimeStart && downtimeEnd ? { startedAt: downtimeStart, endedAt: downtimeEnd } : undefined,
      encryption,
      objectLock: req.store.objectLock,
    });
    await commitManifest(req.store, folder, manifest, req.signal);
    const ref = req.store.urlOf(folder);
    logger.info({ ref, backupId: id, writerDowntimeSeconds: manifest.writerDowntime?.seconds }, "manifest committed");
    return { dryRun: false, plan, ref, manifest, access: access.how };
  } catch (err) {
    if (journal) {
      logger.warn({ error: describe(err) }, "backup failed: resuming the hosted cluster first");
      try {
        await resume(!req.signal?.aborted);
      } catch (resumeErr) {
        if (resumeErr === err) throw err;
        throw new NotRestoredError(
          `${describe(err)}; resuming ${label} failed too (${describe(resumeErr)}): run hcp-etcd-backup resume ${req.name} -n ${req.namespace}`,
          { cause: err },
        );
      }
    }
    throw err;
  } finally {
    undefer?.();
    await access?.close();
  }
}

/** True when one store URL/path is the other or lies inside it. */
function sameOrNested(a: string, b: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/, "");
  const [x, y] = [norm(a), norm(b)];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`);
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

function keyStep(req: HostedBackupRequest, t: HostedClusterTarget): string {
  if (t.encryption.type === "kms") return "record the KMS key (the key itself stays in KMS)";
  if (t.encryption.type === "none") return "no secret encryption configured: no key to save";
  if (req.key.kind === "recipients")
    return `save the aescbc key encrypted to ${req.key.recipients.length} age recipient(s)`;
  if (req.key.kind === "store") return `save the aescbc key (0600) into ${req.key.store.url}`;
  return "do not save the aescbc key (--no-key)";
}

interface PreparedKeys {
  readonly facts: EncryptionFacts | undefined;
  /** What to write, and where: sealed files beside the snapshot, or raw files into the --key-to store. */
  readonly files: ReadonlyArray<{ readonly object: string; readonly bytes: Buffer }>;
  readonly into?: Store;
}

/** `encryption-key[.age]` for the active key, `encryption-key-backup[.age]` for the backup key. */
function keyObject(role: "active" | "backup", sealed: boolean): string {
  const base = role === "active" ? RAW_KEY_OBJECT : `${RAW_KEY_OBJECT}-backup`;
  return sealed ? `${base}.age` : base;
}

async function prepareKeys(req: HostedBackupRequest, t: HostedClusterTarget): Promise<PreparedKeys> {
  const e = t.encryption;
  if (e.type === "none") return { facts: undefined, files: [] };
  if (e.type === "kms") {
    return {
      facts: {
        type: "kms",
        secretNames: [],
        keys: [],
        kms: e.arn && e.region ? { arn: e.arn, region: e.region } : undefined,
      },
      files: [],
    };
  }
  if (req.key.kind === "none") {
    return {
      facts: { type: "aescbc", secretNames: e.secrets.map((s) => `${t.namespace}/${s.name}`), keys: [] },
      files: [],
    };
  }
  const keys = await readEncryptionKeys(req.cluster, t, req.signal);
  if (!keys.some((k) => k.role === "active"))
    throw new UsageError(`no active encryption key for ${t.namespace}/${t.name}`);
  const sealed = req.key.kind === "recipients";
  const facts: EncryptionFacts = {
    type: "aescbc",
    secretNames: keys.map((k) => `${t.namespace}/${k.secret}`),
    keys: keys.map((k) => ({ fingerprint: keyFingerprint(k.key), keyName: aescbcKeyName(k.key) })),
    object: sealed ? KEY_OBJECT : undefined,
  };
  const files = [];
  for (const k of keys) {
    const bytes = req.key.kind === "recipients" ? Buffer.from(await sealKey(k.key, req.key.recipients)) : k.key;
    files.push({ object: keyObject(k.role, sealed), bytes });
  }
  return { facts, files, into: req.key.kind === "store" ? req.key.store : req.store };
}

/** Writes the key files before the manifest: a backup whose key could not be saved is never committed. */
async function storeKeys(
  req: HostedBackupRequest,
  keys: PreparedKeys,
  folder: string,
): Promise<EncryptionFacts | undefined> {
  for (const f of keys.files) {
    await keys.into?.put(`${folder}/${f.object}`, f.bytes, {
      contentType: "application/octet-stream",
      signal: req.signal,
    });
  }
  return keys.facts;
}

/** The survey, repeated until every member reports one revision: the proof that nothing writes any more. */
async function surveyUntilQuiet(
  req: HostedBackupRequest,
  access: EtcdAccess,
  logger: Logger,
  timeouts: Timeouts,
): Promise<MemberSurvey> {
  const deadline = Date.now() + timeouts.revisionsAgree;
  for (;;) {
    const survey = requireAnswers(await surveyMembers(access.endpoints, access.connect, { signal: req.signal }));
    logger.info(surveyFields(survey), "members surveyed");
    if (revisionsAgree(survey) && survey.unreachable.length === 0) {
      logger.info({ revision: survey.members[0]?.status.revision }, "etcd quiet at one revision; confirming");
      return survey;
    }
    if (Date.now() >= deadline) {
      const revisions = survey.members.map((m) => `${m.name}=${m.status.revision}`);
      throw new EtcdError(
        `etcd members still disagree on the revision after ${Math.round(timeouts.revisionsAgree / 1000)}s (${revisions.join(", ")}${survey.unreachable.length ? `, ${survey.unreachable.length} unreachable` : ""}): something still writes to etcd, or a member is behind`,
      );
    }
    await new Promise((r) => setTimeout(r, req.pollMs ?? 200)); // poll interval while the members catch up
  }
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

/** Quiet is proven by two surveys: the second, at least this long after the first, must see the same revision. */
const QUIET_PROOF_MS = 1_000;

async function confirmQuiet(
  req: HostedBackupRequest,
  access: EtcdAccess,
  first: MemberSurvey,
  firstAt: number,
  logger: Logger,
): Promise<void> {
  const wait = firstAt + QUIET_PROOF_MS - Date.now();
  if (wait > 0) {
    await new Promise<void>((resolve, reject) => {
      if (req.signal?.aborted) return reject(new CancelledError("the second survey of etcd was cancelled"));
      const onAbort = () => {
        clearTimeout(t);
        reject(new CancelledError("the second survey of etcd was cancelled"));
      };
      const t = setTimeout(() => {
        req.signal?.removeEventListener("abort", onAbort);
        resolve();
      }, wait);
      req.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  const second = requireAnswers(await surveyMembers(access.endpoints, access.connect, { signal: req.signal }));
  const before = first.members[0]?.status.revision;
  const moved = second.members.filter((m) => m.status.revision !== before);
  if (moved.length > 0 || second.unreachable.length > 0) {
    const now = second.members.map((m) => `${m.name}=${m.status.revision}`).join(", ");
    throw new EtcdError(
      `etcd was not quiet: its revision was ${before} and ${QUIET_PROOF_MS / 1000}s later ${now}${second.unreachable.length ? ` (${second.unreachable.length} unreachable)` : ""}: something still writes to etcd; the backup is not committed`,
    );
  }
  logger.info({ revision: before }, "etcd quiet (two surveys agree)");
}

/** The snapshot must hold the revision both surveys saw: otherwise a write landed between them and it. */
function requireSnapshotAtSurvey(captures: readonly CapturedSnapshot[], survey: MemberSurvey): void {
  const expected = survey.members[0]?.status.revision;
  for (const c of captures) {
    if (Number(c.snapshot.status.revision) !== expected)
      throw new EtcdError(
        `the snapshot of ${c.member.name} holds revision ${c.snapshot.status.revision}, but etcd was quiet at ${expected}: something wrote to etcd; the backup is not committed`,
      );
  }
}

async function captureMembers(
  req: HostedBackupRequest,
  access: EtcdAccess,
  survey: MemberSurvey,
  folder: string,
  logger: Logger,
  onAllVerified: () => void,
): Promise<CapturedSnapshot[]> {
  const queue = snapshotCandidates(survey);
  if (queue.length === 0) throw new OperationError("no healthy voting etcd member to snapshot");
  const capture = (member: (typeof queue)[number], object: string, last: boolean) =>
    captureSnapshot({
      connect: access.connect,
      member,
      store: req.store,
      objectKey: () => `${folder}/${object}`,
      logger,
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
  return [await captureWithFallback(queue, (member) => capture(member, SNAPSHOT_FILE, true), logger)];
}
