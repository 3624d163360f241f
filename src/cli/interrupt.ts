import { CancelledError, causedByCancel, describe, leftSomethingChanged } from "../errors.js";

/** What a command gets from the process owner: a signal to honour and a place to register cleanups. */
export interface RunContext {
  /** Aborted by the first SIGINT, SIGTERM or SIGHUP. */
  readonly signal: AbortSignal;
  /**
   * Registers work that must run before the process exits on a signal (bring a hosted cluster
   * back, stop sandbox daemons). Cleanups run newest first, after the interrupted work settled.
   * Returns a function that unregisters it (call it once the work has cleaned up by itself).
   */
  defer(name: string, cleanup: () => Promise<void> | void): () => void;
}

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export interface InterruptOptions {
  /** How long cleanup may take after a signal before the process exits anyway. */
  readonly deadlineMs?: number;
  /** How long to wait for the interrupted work to unwind before running the cleanups regardless (default 10 s). */
  readonly workGraceMs?: number;
  readonly report: (line: string) => void;
  /** Ends the process; tests of this module pass their own. */
  readonly exit?: (code: number) => void;
}

/**
 * The one owner of process signals (installed by src/cli/main.ts only). The first signal aborts
 * the running work, waits for it to settle, runs the registered cleanups, then exits with 128+n.
 * Another signal meanwhile is reported and ignored until cleanup ends or the deadline passes:
 * an impatient second Ctrl-C must not leave a hosted cluster paused.
 */
export class Interrupt implements RunContext {
  private readonly controller = new AbortController();
  private readonly cleanups: Array<{ name: string; run: () => Promise<void> | void }> = [];
  private readonly deadlineMs: number;
  private readonly workGraceMs: number;
  private readonly report: (line: string) => void;
  private readonly exit: (code: number) => void;
  private work: Promise<unknown> = Promise.resolve();
  private received: NodeJS.Signals | undefined;
  private stopping = false;

  constructor(options: InterruptOptions) {
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.workGraceMs = options.workGraceMs ?? 10_000;
    this.report = options.report;
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal that interrupted the run, if one did. */
  get interruptedBy(): NodeJS.Signals | undefined {
    return this.received;
  }

  /** A signal or a crash is being handled: the process exits when its cleanup ends. */
  get exiting(): boolean {
    return this.stopping;
  }

  defer(name: string, cleanup: () => Promise<void> | void): () => void {
    const entry = { name, run: cleanup };
    this.cleanups.push(entry);
    return () => {
      const i = this.cleanups.indexOf(entry);
      if (i >= 0) this.cleanups.splice(i, 1);
    };
  }

  /** The work to wait for after a signal, before cleanups run. */
  track(work: Promise<unknown>): void {
    this.work = work;
  }

  install(): void {
    for (const sig of Object.keys(EXIT_CODES) as NodeJS.Signals[]) process.on(sig, () => void this.handle(sig));
    // A bug that escapes every handler must not leave a hosted cluster paused either: same cleanup, exit 1.
    process.on("uncaughtException", (err) => void this.crash(err));
  }

  async handle(sig: NodeJS.Signals): Promise<void> {
    if (this.received !== undefined || this.stopping) {
      this.report(`received ${sig} again: still cleaning up, not exiting yet`);
      return;
    }
    this.received = sig;
    this.report(`received ${sig}: stopping and cleaning up`);
    await this.stop(new CancelledError(`interrupted by ${sig}`), EXIT_CODES[sig] ?? 1);
  }

  /**
   * The reader of stdout has gone (`| head`): the work is stopped and its cleanups run as after a
   * signal (sorted runs and staged copies removed), quietly, and the process exits with `code`.
   */
  async readerGone(code: number): Promise<void> {
    if (this.received !== undefined || this.stopping) return;
    await this.stop(new CancelledError("stdout was closed by its reader"), code, { quiet: true });
  }

  async crash(err: unknown): Promise<void> {
    const text = describe(err);
    if (this.stopping) {
      this.report(`unexpected error during cleanup: ${text.split("\n")[0]}`);
      return;
    }
    this.report(`unexpected error: ${text.split("\n")[0]} (please report this as a bug); cleaning up before exit`);
    if (process.env.HCPEB_DEBUG && err instanceof Error && err.stack) this.report(err.stack);
    await this.stop(err, 1);
  }

  private async stop(reason: unknown, code: number, o: { quiet?: boolean } = {}): Promise<void> {
    this.stopping = true;
    const deadline = setTimeout(() => {
      this.report(`cleanup did not finish within ${this.deadlineMs / 1000}s; exiting anyway`);
      this.exit(code);
    }, this.deadlineMs);
    this.controller.abort(reason);
    // The work unwinds first (its own finally blocks resume a hosted cluster, remove a .part); a
    // failure there that is not the echo of this stop is what the user must hear about. Work that
    // does not unwind within the grace period is left behind and the cleanups run anyway.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      this.work.then(
        () => {},
        (err: unknown) => {
          // Quiet: a write that failed because the reader left is no news; a cluster left changed still is.
          if (o.quiet ? leftSomethingChanged(err) : !isEchoOf(reason, err))
            this.report(describe(err).split("\n")[0] ?? "");
        },
      ),
      new Promise<void>((resolve) => {
        grace = setTimeout(() => {
          this.report("the interrupted work has not stopped yet; running the cleanups now");
          resolve();
        }, this.workGraceMs);
      }),
    ]);
    clearTimeout(grace);
    for (const c of [...this.cleanups].reverse()) {
      try {
        await c.run();
      } catch (err) {
        this.report(`cleanup "${c.name}" failed: ${describe(err)}`);
      }
    }
    clearTimeout(deadline);
    this.exit(code);
  }
}

/**
 * Whether the work's failure after a stop is only its echo: the stop itself, a call it cancelled, or
 * anything wrapping one (a lookup that "failed: ... was cancelled"). A cancelled run prints the
 * cancellation only, except when something was left changed: that is said whatever caused it.
 */
function isEchoOf(reason: unknown, err: unknown): boolean {
  if (leftSomethingChanged(err)) return false;
  return err === reason || causedByCancel(err);
}
