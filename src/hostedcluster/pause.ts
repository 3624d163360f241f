/**
 * `spec.pausedUntil` as HyperShift reads it (support/util/pausereconcile.go): a boolean string
 * (`strconv.ParseBool`), else an RFC3339 time (paused while now is before it), else not paused at all
 * — a time without a zone passes the CRD's CEL rule but fails RFC3339 parsing, so it silently does
 * not pause. We only ever write deadlines with a zone.
 */
export type PauseState =
  | { readonly kind: "none"; readonly paused: false }
  | { readonly kind: "boolean"; readonly paused: boolean }
  | { readonly kind: "deadline"; readonly paused: boolean; readonly until: Date }
  | { readonly kind: "invalid"; readonly paused: false; readonly value: string };

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);
// RFC3339 as Go's time.RFC3339 parses it: a zone (Z or ±hh:mm) is required; fractions allowed.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function pauseState(value: string | null | undefined, now: Date): PauseState {
  if (value === undefined || value === null) return { kind: "none", paused: false };
  if (TRUE.has(value)) return { kind: "boolean", paused: true };
  if (FALSE.has(value)) return { kind: "boolean", paused: false };
  if (RFC3339.test(value)) {
    const until = new Date(value);
    if (!Number.isNaN(until.getTime())) return { kind: "deadline", paused: now < until, until };
  }
  return { kind: "invalid", paused: false, value };
}

/**
 * The deadline we pause with: now + timeout, RFC3339 in UTC with a `Z` and whole seconds (20
 * characters; the CRD allows 4 to 35). If the tool dies, reconciliation resumes by itself then.
 */
export function pauseDeadline(now: Date, timeoutMs: number): string {
  return new Date(Math.ceil((now.getTime() + timeoutMs) / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
