import { CommanderError } from "commander";
import { HcpError } from "../errors.js";
import { SnapshotFileError } from "../snapshot/errors.js";

export interface ExitReport {
  readonly code: number;
  /** One line for stderr, or undefined when there is nothing to say (help, version). */
  readonly message?: string;
}

/**
 * A result that is told by the exit status alone, with nothing to add on stderr: `snapshot diff`
 * found differences (1, as diff(1) does).
 */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
    this.name = "ExitStatus";
  }
}

/**
 * A failure in a command whose exit statuses follow another tool's convention, e.g. `snapshot diff`
 * where 1 already means "they differ", so trouble of any kind is 2 as in diff(1).
 */
export class ExitAs extends Error {
  constructor(
    readonly code: number,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "ExitAs";
  }
}

/** The one place where failures become exit codes: 1 failed, 2 usage, 3 verification failed. */
export function exitReport(err: unknown): ExitReport {
  if (err instanceof ExitStatus) return { code: err.code };
  if (err instanceof ExitAs) return { code: err.code, message: exitReport(err.cause).message };
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return { code: 0 };
    // A command group run without its subcommand: commander printed the help to stderr already.
    if (err.code === "commander.help") return { code: 2 };
    // Commander puts its suggestion ("Did you mean backup?") on a second line: keep one line.
    const message = err.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
    // Without a suggestion (`restore <ref>`: the subcommand is missing), say where the choices are.
    if (err.code === "commander.unknownCommand" && !/Did you mean/.test(message))
      return { code: 2, message: `${message}: --help lists the commands (of a group too: restore --help)` };
    return { code: 2, message };
  }
  if (err instanceof HcpError) return { code: err.exitCode, message: err.message };
  // A file that cannot be read is a failure (1); one that was read and is unsound failed verification (3).
  if (err instanceof SnapshotFileError) return { code: err.kind === "missing" ? 1 : 3, message: err.message };
  // Not one of ours: still one line, and a hint that this is a bug rather than bad input.
  const text = err instanceof Error ? err.message : String(err);
  return {
    code: 1,
    message: `unexpected error: ${text.split("\n")[0]} (please report this as a bug; HCPEB_DEBUG=1 shows the stack)`,
  };
}
