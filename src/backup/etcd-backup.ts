import { describe, EtcdError, OperationError } from "../errors.js";
import type { TlsMaterial } from "../etcd/client.js";
import { directConnector, type EtcdConnector } from "../etcd/connector.js";
import type { Endpoint } from "../etcd/endpoint.js";
import { type MemberSurvey, requireAnswers, snapshotCandidates, surveyFields, surveyMembers } from "../etcd/survey.js";
import { type Logger, silentLogger } from "../logging.js";
import { backupFolder, backupId, validateLabel } from "../store/layout.js";
import { MANIFEST_FILE, type Manifest, SNAPSHOT_FILE, serializeManifest } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { type CapturedSnapshot, captureSnapshot, captureWithFallback } from "./capture.js";
import { buildManifest } from "./manifest-builder.js";
import { PhaseTimer } from "./phases.js";

export interface EtcdBackupRequest {
  readonly endpoints: readonly Endpoint[];
  /** TLS material (PEM bytes) for direct connections; ignored when `connect` is given. */
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
  /** How to reach a member; default: a direct connection with `tls` and `auth`. */
  readonly connect?: EtcdConnector;
  /** Member name to snapshot; default the leader. */
  readonly member?: string;
  readonly store: Store;
  readonly label: string;
  /** Cancels the backup: the stream stops, the partial object is removed, nothing is committed. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  readonly onProgress?: (bytes: number, total: number) => void;
  /** Called when a member fails and the backup moves to another one. */
  readonly onFallback?: (failed: string, reason: string, next: string) => void;
}

export interface BackupResult {
  readonly ref: string;
  readonly manifest: Manifest;
}

/**
 * Backs up a plain etcd cluster (mode online: etcd snapshots are point-in-time consistent):
 * surveys every member, streams a snapshot from one (the leader by default) straight into the
 * store, proving the bytes on the way, then writes the manifest — last, as the commit. A member
 * that fails mid-stream is replaced by the next healthy one, unless one was asked for.
 */
export async function backupEtcd(req: EtcdBackupRequest): Promise<BackupResult> {
  const label = validateLabel(req.label);
  const logger = req.logger ?? silentLogger();
  const connect = req.connect ?? directConnector({ tls: req.tls, auth: req.auth });
  const startedAt = new Date();
  const timer = new PhaseTimer();
  const phases = timer.seconds;
  const timed = <T>(phase: string, work: () => Promise<T>) => timer.time(phase, work);

  await timed("check-store", () => req.store.check({ signal: req.signal }));
  logger.info({ store: req.store.url, seconds: phases["check-store"] }, "store checked");
  const survey = await timed("survey", () => surveyMembers(req.endpoints, connect, { signal: req.signal }));
  logger.info({ ...surveyFields(survey), seconds: phases.survey }, "members surveyed");
  requireAnswers(survey);
  const captured = await timed("capture", () => captureFromMembers(req, connect, label, survey, logger));
  const finishedAt = new Date();
  const manifest = buildManifest({
    backupId: captured.backupId,
    label,
    mode: "online",
    source: { kind: "etcd", endpoints: req.endpoints.map((e) => e.url) },
    captured: captured.capture,
    members: survey.members,
    startedAt,
    finishedAt,
    phases,
    objectLock: req.store.objectLock,
  });
  const folder = backupFolder(label, captured.backupId);
  await commitManifest(req.store, folder, manifest, req.signal);
  const ref = req.store.urlOf(folder);
  logger.info({ ref, backupId: manifest.backupId, totalSeconds: manifest.timings.totalSeconds }, "manifest committed");
  return { ref, manifest };
}

/** Writes the manifest: from this moment the backup exists for list, verify and restore. */
export async function commitManifest(store: Store, folder: string, manifest: Manifest, signal?: AbortSignal) {
  // A cancelled signal makes the put refuse before it writes anything (every Store checks it first).
  await store.put(`${folder}/${MANIFEST_FILE}`, serializeManifest(manifest), {
    contentType: "application/json",
    signal,
  });
}

async function captureFromMembers(
  req: EtcdBackupRequest,
  connect: EtcdConnector,
  label: string,
  survey: MemberSurvey,
  logger: Logger,
): Promise<{ backupId: string; capture: CapturedSnapshot }> {
  const queue = snapshotCandidates(survey, req.member);
  if (queue.length === 0) throw new OperationError("no healthy voting member to snapshot");
  try {
    return await captureWithFallback(
      queue,
      async (member) => {
        let id = "";
        const capture = await captureSnapshot({
          connect,
          member,
          store: req.store,
          objectKey: (status) => {
            id = backupId(new Date(), status.revision);
            return `${backupFolder(label, id)}/${SNAPSHOT_FILE}`;
          },
          logger,
          signal: req.signal,
          onProgress: req.onProgress,
        });
        return { backupId: id, capture };
      },
      logger,
      req.onFallback,
    );
  } catch (err) {
    if (!(err instanceof EtcdError) || req.member === undefined) throw err;
    throw new EtcdError(`${describe(err)}; pick another member with --member NAME`, { cause: err });
  }
}
