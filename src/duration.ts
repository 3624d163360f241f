import { UsageError } from "./errors.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration as people type it in flags — `90s`, `30m`, `1h30m`, `7d`, `500ms` — in milliseconds;
 * undefined when it is not one. A bare number is not one: `--max-age 25` meant as hours would raise
 * false alarms, `--active-deadline 90` meant as minutes would kill every Job. What range a flag
 * accepts, and how it says so, is the flag's own business.
 */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== t) return undefined;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS], 0);
}

/** A flag's range: the bounds and how the message names them ("1m", "24h"). */
export interface DurationRange {
  readonly min: number;
  readonly max: number;
  readonly text: string;
}

/**
 * A duration flag's value in milliseconds, or the one-line usage error: not a duration (`like`
 * shows examples), outside `range`, or zero when the flag has no range.
 */
export function durationFlag(flag: string, value: string, like: string, range?: DurationRange): number {
  const ms = parseDurationMs(value);
  if (ms === undefined || (!range && ms <= 0))
    throw new UsageError(`${flag} must be a duration like ${like}, got "${value}"`);
  if (range && (ms < range.min || ms > range.max))
    throw new UsageError(`${flag} must be between ${range.text}, got "${value}"`);
  return ms;
}

/** How long a backup may hold a cluster paused, or a backup Job may run: a minute to a day. */
export const PHASE_RANGE: DurationRange = { min: 60_000, max: 24 * 3_600_000, text: "1m and 24h" };

/** `--segment` of a continuous backup: how long a segment stays open. */
export const SEGMENT_RANGE: DurationRange = { min: 1000, max: 3_600_000, text: "1s and 1h" };
/** `--full-every`: seconds are allowed (tests, drills); a chain shorter than its segments holds one each. */
export const FULL_EVERY_RANGE: DurationRange = { min: 1000, max: 30 * 86_400_000, text: "1s and 30d" };
