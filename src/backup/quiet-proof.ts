import { CancelledError, EtcdError } from "../errors.js";
import { type MemberSurvey, requireAnswers, revisionsAgree, surveyFields, surveyMembers } from "../etcd/survey.js";
import type { EtcdAccess } from "../hostedcluster/etcd-access.js";
import type { Logger } from "../logging.js";
import type { CapturedSnapshot } from "./capture.js";

/**
 * etcd moved while it should have been quiet: between the two surveys, or between them and the
 * snapshot. Something the scale-down missed still writes; a capture may be tried again.
 */
export class NotQuietError extends EtcdError {}

export interface QuietProbe {
  readonly access: EtcdAccess;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Poll interval while the members catch up (default 200 ms). */
  readonly pollMs?: number;
}

/** Quiet is proven by two surveys: the second, at least this long after the first, must see the same revision. */
export const QUIET_PROOF_MS = 1_000;

/** The survey, repeated until every member reports one revision (or the deadline passes): the first proof that nothing writes. */
export async function surveyUntilQuiet(probe: QuietProbe, deadline: number, timeoutMs: number): Promise<MemberSurvey> {
  const { access, logger, signal } = probe;
  for (;;) {
    const survey = requireAnswers(await surveyMembers(access.endpoints, access.connect, { signal }));
    logger.info(surveyFields(survey), "members surveyed");
    if (revisionsAgree(survey) && survey.unreachable.length === 0) {
      logger.info({ revision: survey.members[0]?.status.revision }, "etcd quiet at one revision; confirming");
      return survey;
    }
    if (Date.now() >= deadline) {
      const revisions = survey.members.map((m) => `${m.name}=${m.status.revision}`);
      throw new EtcdError(
        `etcd members still disagree on the revision after ${Math.round(timeoutMs / 1000)}s (${revisions.join(", ")}${survey.unreachable.length ? `, ${survey.unreachable.length} unreachable` : ""}): something still writes to etcd, or a member is behind`,
      );
    }
    await new Promise((r) => setTimeout(r, probe.pollMs ?? 200)); // poll interval while the members catch up
  }
}

/** The second survey, at least QUIET_PROOF_MS after the first: it must see the first one's revision on every member. */
export async function confirmQuiet(probe: QuietProbe, first: MemberSurvey, firstAt: number): Promise<void> {
  const { access, logger, signal } = probe;
  const wait = firstAt + QUIET_PROOF_MS - Date.now();
  if (wait > 0) await cancellableDelay(wait, signal);
  const second = requireAnswers(await surveyMembers(access.endpoints, access.connect, { signal }));
  const before = first.members[0]?.status.revision;
  const moved = second.members.filter((m) => m.status.revision !== before);
  if (moved.length > 0 || second.unreachable.length > 0) {
    const now = second.members.map((m) => `${m.name}=${m.status.revision}`).join(", ");
    throw new NotQuietError(
      `etcd was not quiet: its revision was ${before} and ${QUIET_PROOF_MS / 1000}s later ${now}${second.unreachable.length ? ` (${second.unreachable.length} unreachable)` : ""}: something still writes to etcd; the backup is not committed`,
    );
  }
  logger.info({ revision: before }, "etcd quiet (two surveys agree)");
}

/** True when the snapshot holds the revision the surveys saw. */
export function atSurveyRevision(revision: number | bigint | string, survey: MemberSurvey): boolean {
  return Number(revision) === survey.members[0]?.status.revision;
}

/** The snapshot must hold the revision both surveys saw: otherwise a write landed between them and it. */
export function requireSnapshotAtSurvey(captures: readonly CapturedSnapshot[], survey: MemberSurvey): void {
  for (const c of captures) {
    if (!atSurveyRevision(c.snapshot.status.revision, survey))
      throw new NotQuietError(
        `the snapshot of ${c.member.name} holds revision ${c.snapshot.status.revision}, but etcd was quiet at ${survey.members[0]?.status.revision}: something wrote to etcd; the backup is not committed`,
      );
  }
}

function cancellableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError("the second survey of etcd was cancelled"));
    const onAbort = () => {
      clearTimeout(t);
      reject(new CancelledError("the second survey of etcd was cancelled"));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
