import { type LogFormat, type Logger, silentLogger } from "../logging.js";
import type { RunContext } from "./interrupt.js";

/** What every command action gets: the interrupt's signal and cleanups, and the logger the global flags chose. */
export interface CliContext extends RunContext {
  /** Set from --log-format/--log-level before any action runs (silent until then). */
  readonly logger: Logger;
  readonly logFormat: LogFormat;
}

/** The context main.ts owns; the program sets the logger once the global flags are parsed. */
export class MutableCliContext implements CliContext {
  logger: Logger = silentLogger();
  logFormat: LogFormat = "text";

  constructor(private readonly run: RunContext) {}

  get signal(): AbortSignal {
    return this.run.signal;
  }

  defer(name: string, cleanup: () => Promise<void> | void): () => void {
    return this.run.defer(name, cleanup);
  }

  /**
   * A one-line message for the user on stderr: plain text, or a JSON log event when logs are JSON
   * (stderr then stays one object a line).
   */
  say(level: "warn" | "error", line: string, fields: Record<string, unknown> = {}): void {
    if (this.logFormat === "json") this.logger[level](fields, line);
    else process.stderr.write(`hcp-etcd-backup: ${line}\n`);
  }
}
