import type { Logger } from "../logging.js";
import type { RunContext } from "./interrupt.js";

/** What every command action gets: the interrupt's signal and cleanups, and the logger the global flags chose. */
export interface CliContext extends RunContext {
  /** Set from --log-format/--log-level before any action runs. */
  readonly logger: Logger;
}
