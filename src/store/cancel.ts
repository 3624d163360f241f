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
 * signal only between chunks would wait for a chunk that may never come.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined, what: string) {
  if (!signal) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      throwIfCancelled(signal, what);
      const r = await nextOrAbort(it, signal, what);
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Not awaited: a source stuck in next() would hold the cancellation up; it is closed when that settles.
    if (!finished) it.return?.().catch(() => {});
  }
}

function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal, what: string): Promise<IteratorResult<T>> {
  const next = it.next();
  // A next() that loses the race and rejects later must not become an unhandled rejection.
  next.catch(() => {});
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(cancelled(what, signal));
    signal.addEventListener("abort", onAbort, { once: true });
    next.then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
