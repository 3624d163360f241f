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
 * source's own failures into the caller's error type.
 *
 * One abort listener for the whole iteration, which rejects whichever next() is pending. Not a
 * race against one long-lived "aborted" promise: every race leaves a reaction on that promise that
 * keeps its chunk alive — 1.2 GiB of retained 32 KiB chunks for a 1 GiB snapshot, measured.
 */
export async function* abortable<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal | undefined,
  what: string,
  mapError: (err: unknown) => unknown = (err) => err,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let rejectPending: ((err: unknown) => void) | undefined;
  const onAbort = () => rejectPending?.(cancelled(what, signal));
  signal?.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      throwIfCancelled(signal, what);
      const next = it.next();
      let r: IteratorResult<T>;
      try {
        if (signal) {
          // next.then(resolve, reject) also observes a next() that rejects after the abort won: never unhandled.
          r = await new Promise<IteratorResult<T>>((resolve, reject) => {
            rejectPending = reject;
            next.then(resolve, reject);
          });
          rejectPending = undefined;
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
    signal?.removeEventListener("abort", onAbort);
    // Not awaited: a source stuck in next() would hold the cancellation up; it is closed when that settles.
    if (!finished) it.return?.().catch(() => {});
  }
}
