import { parseDurationMs } from "../../duration.js";
import { UsageError } from "../../errors.js";

/** S3's limit for a SigV4 presigned URL. */
export const MAX_EXPIRY_SECONDS = 7 * 24 * 3600;

/**
 * 24 h: the URL must outlive applying the manifests, PVC binding, image pulls and every etcd pod's
 * `etcd-init` (each downloads it, and a pod in CrashLoop retries with the same URL), and on HyperShift
 * releases where `restoreSnapshotURL` is immutable an expired URL means deleting the cluster and starting
 * over. A day covers "prepare now, apply after review" without leaving a bearer link to the whole etcd
 * alive for the 7 days S3 would allow.
 */
export const DEFAULT_EXPIRY_SECONDS = 24 * 3600;

/** `90m`, `24h`, `7d`, `3600s`, combinable as in `1d12h`; absent: the default. */
export function parseExpiry(text: string | undefined): number {
  if (text === undefined) return DEFAULT_EXPIRY_SECONDS;
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw new UsageError(`--expires "${text}" is not a duration: use e.g. 90m, 24h, 7d (at most 7d)`);
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) throw new UsageError(`--expires ${text} is too short: the URL must outlive the etcd pods' start`);
  if (seconds > MAX_EXPIRY_SECONDS) {
    throw new UsageError(`--expires ${text} is over 7 days, the longest S3 signs a URL for: use 7d or less`);
  }
  return seconds;
}

/** `1d 2h`, `45m`: for the report. */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const out = [d ? `${d}d` : "", h ? `${h}h` : "", m ? `${m}m` : ""].filter(Boolean).join(" ");
  return out || `${seconds}s`;
}
