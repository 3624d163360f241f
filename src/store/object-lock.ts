import { UsageError } from "../errors.js";

export type LockMode = "governance" | "compliance";

/** What `--object-lock <mode>:<days>` asks for. */
export interface ObjectLockRequest {
  readonly mode: LockMode;
  readonly days: number;
}

/**
 * The retention every object of one run gets: one date, fixed when the store is opened, so the
 * snapshot, the key and the manifest of a backup (and the manifest's record of it) agree.
 */
export interface ObjectLockRetention {
  readonly mode: LockMode;
  readonly retainUntil: Date;
}

/** How an object stands: S3 refuses to delete its version while retained or under legal hold. */
export interface ObjectLockState {
  readonly mode?: LockMode;
  readonly retainUntil?: Date;
  readonly legalHold: boolean;
}

const MAX_DAYS = 36500;

export function parseObjectLock(spec: string): ObjectLockRequest {
  const m = /^(governance|compliance):(\d+)$/i.exec(spec.trim());
  const days = Number(m?.[2]);
  if (!m || !Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new UsageError(
      `--object-lock must be governance:<days> or compliance:<days> with 1 to ${MAX_DAYS} days, got "${spec}"`,
    );
  }
  return { mode: (m[1] as string).toLowerCase() as LockMode, days };
}

/** Now plus the days, rounded up to a whole second (S3 stores retention dates to the second on some servers). */
export function retentionFrom(request: ObjectLockRequest, now: Date = new Date()): ObjectLockRetention {
  const until = now.getTime() + request.days * 86_400_000;
  return { mode: request.mode, retainUntil: new Date(Math.ceil(until / 1000) * 1000) };
}

/** Whether the object cannot be deleted at `now`. */
export function isLocked(state: ObjectLockState | undefined, now: Date = new Date()): boolean {
  if (!state) return false;
  return state.legalHold || (state.retainUntil !== undefined && state.retainUntil > now);
}

/** "locked until 2026-12-31T00:00:00.000Z (governance)" or "under legal hold". */
export function describeLock(state: ObjectLockState): string {
  const parts: string[] = [];
  if (state.retainUntil)
    parts.push(`locked until ${state.retainUntil.toISOString()}${state.mode ? ` (${state.mode})` : ""}`);
  if (state.legalHold) parts.push("under legal hold");
  return parts.join(", ");
}
