import { describe, EtcdError } from "../errors.js";
import type { MemberStatus } from "../etcd/client.js";
import type { EtcdConnector } from "../etcd/connector.js";
import type { SurveyedMember } from "../etcd/survey.js";
import type { Logger } from "../logging.js";
import type { Store } from "../store/store.js";
import { SnapshotVerifier, type VerifiedSnapshot } from "./verified-stream.js";

export interface CaptureRequest {
  readonly connect: EtcdConnector;
  readonly member: SurveyedMember;
  readonly store: Store;
  /** Where the snapshot object goes, from the member's status right before streaming (its revision names the backup). */
  readonly objectKey: (status: MemberStatus) => string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytes: number, total: number) => void;
  /** Every check passed and every byte is here; the upload is not completed yet. */
  readonly onVerified?: (snapshot: VerifiedSnapshot) => void;
}

export interface CapturedSnapshot {
  readonly member: SurveyedMember;
  /** The member's status right before the stream started. */
  readonly status: MemberStatus;
  readonly objectKey: string;
  readonly snapshot: VerifiedSnapshot;
  readonly startedAt: Date;
  /** Stream started to trailer verified. */
  readonly streamSeconds: number;
  /** Stream started to object stored (upload completed). */
  readonly storeSeconds: number;
}

/**
 * Streams one member's snapshot into the store, proving it on the way (SHA-256 trailer, byte
 * count, structure and status): the object is stored only if every check passed, and nothing is
 * left if one failed or the signal fired. Writing the manifest, which makes it a backup, is the
 * caller's step.
 */
export async function captureSnapshot(req: CaptureRequest): Promise<CapturedSnapshot> {
  const { member, logger } = req;
  const client = await req.connect(member.endpoint, { signal: req.signal });
  try {
    const status = await client.status();
    const objectKey = req.objectKey(status);
    const startedAt = new Date();
    let verifiedAt: number | undefined;
    const verifier = new SnapshotVerifier({
      onProgress: req.onProgress,
      onVerified: (v) => {
        verifiedAt = Date.now();
        logger.info(
          {
            member: member.name,
            bytes: v.objectSize,
            revision: Number(v.status.revision),
            sha256: v.sha256,
            ms: verifiedAt - startedAt.getTime(),
          },
          "snapshot verified",
        );
        req.onVerified?.(v);
      },
    });
    logger.info(
      { member: member.name, endpoint: member.endpoint.url, dbSize: status.dbSize, revision: status.revision },
      "snapshot stream started",
    );
    await req.store.put(objectKey, verifier.pipe(client.snapshot(), `${member.name} (${member.endpoint.url})`), {
      sizeHint: status.dbSize + 32,
      contentType: "application/octet-stream",
      signal: req.signal,
    });
    const storedAt = Date.now();
    const snapshot = verifier.result;
    const storeSeconds = (storedAt - startedAt.getTime()) / 1000;
    logger.info(
      {
        object: objectKey,
        bytes: snapshot.objectSize,
        ms: storedAt - startedAt.getTime(),
        mibPerSecond: Number((snapshot.objectSize / 1048576 / Math.max(0.001, storeSeconds)).toFixed(1)),
      },
      "snapshot stored",
    );
    return {
      member,
      status,
      objectKey,
      snapshot,
      startedAt,
      streamSeconds: ((verifiedAt ?? storedAt) - startedAt.getTime()) / 1000,
      storeSeconds,
    };
  } finally {
    client.close();
  }
}

/**
 * Tries the members in order until one capture succeeds: the first (leader) by default, and when a
 * member fails mid-stream, the next. Only etcd's failures move on — a failed check or a store error
 * would fail on every member. Throws the last member's error when none succeeded.
 */
export async function captureWithFallback<T>(
  queue: readonly SurveyedMember[],
  attempt: (member: SurveyedMember) => Promise<T>,
  logger: Logger,
  onFallback?: (failed: string, reason: string, next: string) => void,
): Promise<T> {
  let lastError: unknown;
  for (const [i, member] of queue.entries()) {
    logger.info(
      { member: member.name, endpoint: member.endpoint.url, isLeader: member.status.isLeader },
      "member chosen",
    );
    try {
      return await attempt(member);
    } catch (err) {
      lastError = err;
      if (!(err instanceof EtcdError)) throw err;
      const next = queue[i + 1];
      if (!next) break;
      logger.warn({ failed: member.name, reason: describe(err), next: next.name }, "member failed, falling back");
      onFallback?.(member.name, describe(err), next.name);
    }
  }
  throw lastError;
}
