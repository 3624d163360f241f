import { OperationError } from "../errors.js";
import type { Logger } from "../logging.js";

/**
 * The management cluster's time. Every deadline the backup writes or judges — `pausedUntil`, the
 * lock's expiry, whether a journal's holder may still run — is read by HyperShift and by other runs
 * against the API server's clock, not this machine's: with the laptop 3 h behind, a deadline "30 min
 * from now" is already past for HyperShift and the pause never takes hold.
 */
export interface ServerClock {
  now(): Date;
  /** Server minus local, in ms (0 when the server gave no time). */
  readonly skewMs: number;
  readonly source: "api-server" | "local";
}

/** One answer's `Date` header, with the local times the request went out and its answer came back. */
export interface DateSample {
  readonly date: string | undefined;
  readonly sentAt: number;
  readonly receivedAt: number;
}

/** Skew worth a line in the log: the `Date` header has whole seconds, so less is noise. */
const NOTABLE_SKEW_MS = 5_000;

/**
 * The server's clock from a `Date` header. The header is truncated to the second, so the server's
 * time at the answer lies in [date, date + 1 s): its middle is compared with the middle of the round
 * trip. No header (a proxy that drops it): the local clock, with a warning.
 */
export function serverClock(
  sample: DateSample,
  logger: Logger,
  local: () => number = Date.now,
  server = "the API server",
): ServerClock {
  const parsed = sample.date === undefined ? Number.NaN : Date.parse(sample.date);
  if (Number.isNaN(parsed)) {
    logger.warn(
      { server },
      "the Kubernetes API answered without a Date header: deadlines follow this machine's clock, keep it in sync",
    );
    return { now: () => new Date(local()), skewMs: 0, source: "local" };
  }
  const skewMs = Math.round(parsed + 500 - (sample.sentAt + sample.receivedAt) / 2);
  if (Math.abs(skewMs) > NOTABLE_SKEW_MS)
    logger.warn(
      { server, skewSeconds: Math.round(skewMs / 1000) },
      `the Kubernetes API server's clock is ${describeSkew(skewMs)} this machine's: deadlines follow the API server's`,
    );
  return { now: () => new Date(local() + skewMs), skewMs, source: "api-server" };
}

/**
 * Refuses, before anything changes, a skew larger than the pause it would protect: one of the two
 * clocks is wrong by more than the whole window, and HyperShift's controllers, the kubelet and the
 * other runs cannot all agree on when the pause ends.
 */
export function requireSkewWithin(clock: ServerClock, pauseTimeoutMs: number): void {
  if (Math.abs(clock.skewMs) <= pauseTimeoutMs) return;
  throw new OperationError(
    `the Kubernetes API server's clock is ${describeSkew(clock.skewMs)} this machine's, more than the pause timeout (${Math.round(pauseTimeoutMs / 60_000)} min): fix the clock (NTP) on one of them; nothing was changed`,
  );
}

function describeSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
  return `${text} ${ms > 0 ? "ahead of" : "behind"}`;
}
