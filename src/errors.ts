/**
 * Every failure the tool reports is one of these. Messages follow the pattern
 * "what failed, on which object: why. what to do", so one printed line is enough to act on.
 * The CLI maps `exitCode` to the process exit status in one place (src/cli/exit.ts).
 */
export type ExitCode = 1 | 2 | 3;

export abstract class HcpError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Something went wrong while doing the work: unreachable endpoint, missing binary, S3 error. Exit 1. */
export class OperationError extends HcpError {
  readonly exitCode = 1 as const;
}

/** etcd failed us: unreachable, refused TLS or credentials, a member died mid-stream. Exit 1. */
export class EtcdError extends OperationError {}

/** The store failed us: S3 refused or could not be reached, a disk filled up. Exit 1. */
export class StoreError extends OperationError {}

/** The caller cancelled the operation (its AbortSignal fired); whatever it had started was cleaned up. Exit 1. */
export class CancelledError extends OperationError {}

/**
 * A run stopped (failed or cancelled) and could not put back what it changed (a hosted cluster left
 * paused or scaled down): said even after a Ctrl-C, when every other failure is only its echo. Exit 1.
 */
export class NotRestoredError extends OperationError {}

/** True when `err` or one of its causes is a CancelledError: the failure is the echo of a cancel. */
export function causedByCancel(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
    if (e instanceof CancelledError) return true;
  return false;
}

/** True when `err` or one of its causes says something was left changed (NotRestoredError). */
export function leftSomethingChanged(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
    if (e instanceof NotRestoredError) return true;
  return false;
}

/** The user asked for something that cannot be done as asked: bad flag, bad URL, missing file. Exit 2. */
export class UsageError extends HcpError {
  readonly exitCode = 2 as const;
}

/** Data was read but failed verification: corrupt snapshot, SHA-256 mismatch. Exit 3. */
export class VerificationError extends HcpError {
  readonly exitCode = 3 as const;
}

/** The message of any thrown value, for wrapping foreign errors into ours. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  // A WebSocket's error event (client-node's port-forward and exec reject with one): its message or its error.
  if (typeof err === "object" && err !== null) {
    const { message, error } = err as { message?: unknown; error?: unknown };
    if (typeof message === "string" && message !== "") return message;
    if (error instanceof Error) return error.message;
  }
  return String(err);
}
