import type { TxnGuard, TxnOp } from "../etcd/client.js";

/** Sends one Txn (guarded or not) and reports whether it applied and etcd's revision after it. */
export type SendTxn = (ops: readonly TxnOp[], guard?: TxnGuard) => Promise<{ succeeded: boolean; revision: number }>;

interface InFlight {
  readonly revision: number;
  readonly ops: readonly TxnOp[];
  result: Promise<{ succeeded: boolean; revision: number }>;
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
 * unguarded, once its predecessor is known to have applied. Memory: at most `window` revisions held.
 */
export class OrderedTxns {
  private readonly inFlight: InFlight[] = [];
  /** Guarded Txns that arrived before their predecessor and were sent again. */
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
    while (this.inFlight.length >= this.window) await this.settleOldest();
    let guard: TxnGuard | undefined;
    const previous = this.inFlight.at(-1);
    if (previous) {
      guard = this.guardAfter(previous);
      if (!guard) await this.drain();
    }
    const result = this.send(ops, guard);
    // Awaited in order by settleOldest; a rejection before then must not count as unhandled.
    result.catch(() => {});
    this.inFlight.push({ revision, ops, result });
  }

  /** Waits until every revision pushed has applied. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inFlight[0] as InFlight;
    let got = await oldest.result;
    if (!got.succeeded) {
      // Everything before it has applied and nothing after it can apply first: no guard needed.
      this.resent++;
      got = await this.send(oldest.ops);
    }
    this.inFlight.shift();
    this.onApplied(oldest.revision, got.revision);
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
