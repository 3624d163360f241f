import { randomBytes } from "node:crypto";
import type { Logger } from "../logging.js";
import type { HostedClusterTarget } from "./discovery.js";
import type { Journal } from "./journal.js";
import type { ManagementCluster } from "./kube.js";
import {
  lockAndJournal,
  pause,
  type QuiesceContext,
  readJournal,
  resumeFromJournal,
  scaleWritersDown,
  waitForPause,
  waitForWritersGone,
} from "./quiesce.js";
import { requireSkewWithin, serverClock } from "./server-clock.js";

/** How long each wait of a quiesced run may take before it gives up (and resumes). */
export interface QuiesceTimeouts {
  readonly pauseReached: number;
  readonly writersGone: number;
  readonly writersAvailable: number;
}

export interface QuiesceSessionOptions {
  readonly cluster: ManagementCluster;
  readonly target: HostedClusterTarget;
  readonly logger: Logger;
  /** The run's signal; resume runs without it (after a Ctrl-C it must still reach the API). */
  readonly signal?: AbortSignal;
  /** How long the pause lasts if this process dies: reconciliation resumes by itself then. */
  readonly pauseTimeoutMs: number;
  readonly timeouts: QuiesceTimeouts;
  /** The local clock for what the tool records (the downtime); deadlines use the API server's. */
  readonly now?: () => Date;
  readonly pollMs?: number;
  /** Registers the resume with the process owner, so a signal that outruns the work still brings the cluster back. */
  readonly defer?: (name: string, cleanup: () => Promise<void>) => () => void;
}

/**
 * One quiesced run's hold on a hosted cluster: the lock and its journal, the writers' originals
 * (read under the lock), the pause, and the way back. `start()` takes it all; `resume()` gives it
 * all back, once, whatever happened in between; `downtime` is what the writers paid for it.
 * Deadlines (pausedUntil, the lock's expiry) are the API server's time: HyperShift and other runs
 * judge them by it.
 */
export class QuiesceSession {
  /** Our journal as last intended (set before each request, so a lost reply is still undone). */
  #journal: Journal | undefined;
  /** The lock is ours: only then may our own copy of the journal stand in for an unreadable stored one. */
  #locked = false;
  #resuming: Promise<void> | undefined;
  #downtimeStart: Date | undefined;
  #downtimeEnd: Date | undefined;
  #undefer: (() => void) | undefined;

  private constructor(
    private readonly opts: QuiesceSessionOptions,
    private readonly ctx: QuiesceContext,
  ) {}

  /**
   * Reads the API server's clock and refuses a skew the pause could not cover — before anything
   * changes — and registers the resume with the process owner.
   */
  static async open(opts: QuiesceSessionOptions): Promise<QuiesceSession> {
    const clock = serverClock(await opts.cluster.dateSample(opts.signal), opts.logger, Date.now, opts.cluster.server);
    requireSkewWithin(clock, opts.pauseTimeoutMs);
    const session = new QuiesceSession(opts, {
      cluster: opts.cluster,
      target: opts.target,
      logger: opts.logger,
      signal: opts.signal,
      now: clock.now,
      pollMs: opts.pollMs,
    });
    session.#undefer = opts.defer?.("resume the hosted cluster", () => session.resume(false));
    return session;
  }

  /** True once this run may have changed the cluster (a journal was written or attempted). */
  get changed(): boolean {
    return this.#journal !== undefined;
  }

  /** When the writers were down: from the pause taking hold until the resume ended. */
  get downtime(): { startedAt: Date; endedAt: Date } | undefined {
    return this.#downtimeStart && this.#downtimeEnd
      ? { startedAt: this.#downtimeStart, endedAt: this.#downtimeEnd }
      : undefined;
  }

  /** Lock and journal, pause and wait for it to take hold, scale the writers to 0 and wait for them to go. */
  async start(timed: <T>(phase: string, work: () => Promise<T>) => Promise<T>): Promise<void> {
    const { ctx, opts } = this;
    const onJournal = (j: Journal) => {
      this.#journal = j;
    };
    const startedAt = (opts.now ?? (() => new Date()))();
    await timed("lock", () =>
      lockAndJournal(
        ctx,
        {
          runId: `${startedAt.toISOString()}-${randomBytes(3).toString("hex")}`,
          mode: "quiesced",
          lockMs: opts.pauseTimeoutMs + 5 * 60_000,
        },
        onJournal,
      ),
    );
    this.#locked = true;
    await timed("pause", async () => {
      const paused = await pause(ctx, this.#journal as Journal, opts.pauseTimeoutMs, onJournal);
      await waitForPause(ctx, paused.pausedUntil, opts.timeouts.pauseReached);
    });
    this.#downtimeStart = this.#now();
    await timed("scale-down", async () => {
      await scaleWritersDown(ctx, this.#journal as Journal, onJournal);
      await waitForWritersGone(ctx, opts.timeouts.writersGone);
    });
  }

  /**
   * Puts back what the journal says was changed, once however often it is called (the capture's
   * early resume, the error path and a signal may all ask). Waits for the writers to be available
   * when asked.
   */
  resume(waitAvailable: boolean): Promise<void> {
    if (!this.#journal) return Promise.resolve();
    const local = this.#journal;
    const { cluster, target } = this.opts;
    this.#resuming ??= (async () => {
      // The journal on the HostedCluster is the truth (another `resume` may have run); our copy
      // stands in only when it cannot be read and the lock was ours.
      const stored = await readJournal(cluster, target.namespace, target.name).then(
        (r) => r.journal,
        () => (this.#locked ? local : undefined),
      );
      if (stored && stored.runId === local.runId) {
        await resumeFromJournal({ ...this.ctx, signal: undefined }, stored, {
          availableTimeoutMs: this.opts.timeouts.writersAvailable,
          waitAvailable,
          waitSignal: this.opts.signal,
        });
      }
      this.#downtimeEnd ??= this.#now();
    })();
    return this.#resuming;
  }

  /** True once resume was asked for: the writers are (being) brought back and the cluster is no longer quiet. */
  get resumed(): boolean {
    return this.#resuming !== undefined;
  }

  /** Unregisters the resume from the process owner (the run has ended either way). */
  close(): void {
    this.#undefer?.();
  }

  #now(): Date {
    return (this.opts.now ?? (() => new Date()))();
  }
}
