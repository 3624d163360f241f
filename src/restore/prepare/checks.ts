/** One pre-flight finding: pass, warn (go ahead, but know this), block (nothing is written or applied), not run. */
export type CheckStatus = "pass" | "warn" | "block" | "not-run";

export interface Check {
  /** Short and stable, e.g. `url-length`, `etcd-pvcs`: what scripts match on in `-o json`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** One line: what was found and, for warn and block, what to do. Never a secret. */
  readonly reason: string;
}

export const pass = (id: string, reason: string): Check => ({ id, status: "pass", reason });
export const warn = (id: string, reason: string): Check => ({ id, status: "warn", reason });
export const block = (id: string, reason: string): Check => ({ id, status: "block", reason });
export const notRun = (id: string, reason: string): Check => ({ id, status: "not-run", reason });

export function blocked(checks: readonly Check[]): readonly Check[] {
  return checks.filter((c) => c.status === "block");
}
