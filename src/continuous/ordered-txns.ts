import type { TxnGuard, TxnOp } from "../etcd/client.js";

/** Sends one Txn (guarded or not) and reports whether it applied and etcd's revision after it. */
export type SendTxn = (ops: readonly TxnOp[], guard?: TxnGuard) => Promise<{ succeeded: boolean; revision: number }>;

interface InFlight {
  readonly revision: number;
  readonly ops: readonly TxnOp[];
  applied: boolean;
  /** Its guard failed: it is sent again once its predecessor has applied. */
  waiting: boolean;
  got: number;
}

/**
 * Replays source revisions as Txns with up to `window` of them in flight, each applying only right
 * after its predecessor, so that source revision N still lands as revision N. Waiting for each commit
 * before sending the next is what made replay slower than etcd's own apply; in flight, etcd commits
 * many per disk sync. etcd may run unary calls of one connection in any order, so each Txn carries a
 * compare that holds only once its predecessor has applied (and nothing after it can apply before it):
 * - the predecessor put key k: `MOD(k) == its revision` (that revision exists only once it applied);
 * - it only deleted: `VERSION(k) == 0` for a deleted k, which holds only after the delete as long as no
 *   Txn still in flight puts k (the key existed right before the delete, and nothing in flight can have
 *   removed and re-created it); when every deleted key is put in flight, the window drains first.
 * A Txn whose guard failed applied nothing (empty failure branch, no revision) and is sent again,
 * unguarded, as soon as its predecessor is known to have applied: resends stay in flight together
 * rather than one at a time. Memory: at most `window` revisions held.
 */
export class OrderedTxns {
  /** Oldest first; applied ones leave from the front, in order. */
  private readonly inFlight: InFlight[] = [];
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  /** Guarded Txns that reached etcd before their predecessor had applied, and were sent again. */
  resent = 0;

  constructor(
    private readonly send: SendTxn,
    private readonly window: number,
    /** Called in source order once a revision applied, with the revision etcd gave it. */
    private readonly onApplied: (sourceRevision: number, gotRevision: number) => void,
  ) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer: ${window}`);
  }

  /** Sends one source revision's changes, once there is room in the window. */
  async push(revision: number, ops: readonly TxnOp[]): Promise<void> {
    await this.until(() => this.inFlight.length < this.window);
    let guard: TxnGuard | undefined;
    const previous = this.inFlight.at(-1);
    // Applied ones form a prefix: with the last one applied, nothing can come between.
    if (previous && !previous.applied) {
      guard = this.guardAfter(previous);
      if (!guard) await this.drain();
    }
    const entry: InFlight = { revision, ops, applied: false, waiting: false, got: 0 };
    this.inFlight.push(entry);
    this.transmit(entry, guard);
  }

  /** Waits until every revision pushed has applied. */
  async drain(): Promise<void> {
    await this.until(() => this.inFlight.length === 0);
  }

  private transmit(entry: InFlight, guard?: TxnGuard): void {
    this.send(entry.ops, guard).then(
      (r) => this.answered(entry, r),
      (error: unknown) => {
        this.failure ??= { error };
        this.notify();
      },
    );
  }

  private answered(entry: InFlight, r: { succeeded: boolean; revision: number }): void {
    if (this.failure) return;
    const i = this.inFlight.indexOf(entry);
    if (!r.succeeded) {
      const predecessor = i > 0 ? this.inFlight[i - 1] : undefined;
      if (predecessor && !predecessor.applied) entry.waiting = true;
      else this.resend(entry);
      return;
    }
    entry.applied = true;
    entry.got = r.revision;
    const next = this.inFlight[i + 1];
    if (next?.waiting) {
      next.waiting = false;
      this.resend(next);
    }
    while (this.inFlight[0]?.applied) {
      const done = this.inFlight.shift() as InFlight;
      this.onApplied(done.revision, done.got);
    }
    this.notify();
  }

  /** Without a guard: its predecessor has applied, and everything after it waits for it. */
  private resend(entry: InFlight): void {
    this.resent++;
    this.transmit(entry);
  }

  private async until(ready: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      if (ready()) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** A compare that holds only once `previous` has applied; undefined when none is sound now. */
  private guardAfter(previous: InFlight): TxnGuard | undefined {
    const put = previous.ops.find((op) => op.type === "put");
    if (put) return { target: "mod", key: put.key, equals: previous.revision };
    for (const op of previous.ops)
      if (!this.inFlight.some((f) => f.ops.some((o) => o.type === "put" && o.key.equals(op.key))))
        return { target: "version", key: op.key, equals: 0 };
    return undefined;
  }
}
