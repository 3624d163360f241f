/** HyperShift's reading of `spec.pausedUntil` (support/util/pausereconcile.go, ProcessPausedUntilField). */
export interface PauseState {
  readonly paused: boolean;
  /** Not a bool and not an RFC 3339 time: HyperShift logs it and treats the object as not paused. */
  readonly invalid: boolean;
  /** The deadline, for an RFC 3339 value. */
  readonly until?: Date;
}

// Go's strconv.ParseBool.
const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);
// Go's time.Parse(time.RFC3339, ...): a zone is required; fractional seconds are optional.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function pauseState(value: unknown, now: Date): PauseState {
  if (value === undefined || value === null) return { paused: false, invalid: false };
  const s = String(value);
  if (TRUE.has(s)) return { paused: true, invalid: false };
  if (FALSE.has(s)) return { paused: false, invalid: false };
  if (RFC3339.test(s)) {
    const until = new Date(s);
    if (!Number.isNaN(until.getTime())) return { paused: now < until, invalid: false, until };
  }
  return { paused: false, invalid: true };
}

export interface ReconciliationActive {
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
}

/** The ReconciliationActive condition HyperShift sets (GenerateReconciliationActiveCondition). */
export function reconciliationActive(value: unknown, now: Date): ReconciliationActive {
  const st = pauseState(value, now);
  if (st.paused) {
    const message = TRUE.has(String(value))
      ? "Reconciliation paused until field removed"
      : `Reconciliation paused until: ${String(value)}`;
    return { status: "False", reason: "ReconciliationPaused", message };
  }
  if (st.invalid)
    return {
      status: "True",
      reason: "InvalidPausedUntilValue",
      message: "Invalid value provided for PausedUntil field",
    };
  return { status: "True", reason: "AsExpected", message: "Reconciliation active on resource" };
}
