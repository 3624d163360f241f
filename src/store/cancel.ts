import { CancelledError } from "../errors.js";

/** The error every store operation rejects with once its signal fired: `what` says which operation. */
export function cancelled(what: string, signal: AbortSignal | undefined, cause?: unknown): CancelledError {
  return new CancelledError(`${what} was cancelled`, { cause: cause ?? signal?.reason });
}

export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelled(what, signal);
}

/**
 * Iterates `source`, but rejects with a CancelledError as soon as `signal` fires, even while the
 * source is stuck waiting for its next chunk (an etcd member that stops sending): checking the
 * signal only between chunks would wait for a chunk that may never come. `mapError` turns the
 * source's own failures into the caller's error type. One abort listener for the whole iteration and
 * a race per chunk: a snapshot arrives in some 30,000 chunks per GiB, so per-chunk listener
 * bookkeeping showed up in the upload benchmark.
 */
export async function* abortable<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal | undefined,
  what: string,
  mapError: (err: unknown) => unknown = (err) => err,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(cancelled(what, signal));
        signal.addEventListener("abort", onAbort, { once: true });
      })
    : undefined;
  // Rejected only on abort, and then always observed by the race below or by nobody: never unhandled.
  aborted?.catch(() => {});
  let finished = false;
  try {
    for (;;) {
      throwIfCancelled(signal, what);
      const next = it.next();
      let r: IteratorResult<T>;
      try {
        if (aborted) {
          // A next() that loses the race and rejects later must not become an unhandled rejection.
          next.catch(() => {});
          r = await Promise.race([next, aborted]);
        } else r = await next;
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw mapError(err);
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    // Not awaited: a source stuck in next() would hold the cancellation up; it is closed when that settles.
    if (!finished) it.return?.().catch(() => {});
  }
}
