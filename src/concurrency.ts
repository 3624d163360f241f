import { getMaxListeners, setMaxListeners } from "node:events";

/**
 * Runs `work` on every item with at most `limit` running at once, and returns the results in the
 * items' order. Pull-based: `limit` workers each take the next item when they finish one, so at
 * most `limit` items are ever in flight (a backup's stream, a manifest read), whatever the list's
 * length. A rejection stops no other worker; the first one is rethrown once every worker is done,
 * so nothing is left running behind the caller's back.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be >= 1, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/**
 * Lets `slots` concurrent tasks each listen on one AbortSignal without Node's "possible memory
 * leak" warning, which fires past 10 listeners: bounded concurrency is not a leak.
 */
export function allowListeners(signal: AbortSignal | undefined, slots: number): void {
  if (signal) setMaxListeners(Math.max(getMaxListeners(signal), slots + 10), signal);
}

/**
 * A signal of one task that aborts with `parent`: the task's own listeners go on it, so the parent
 * holds one listener per running task, removed by `release()` when the task ends.
 */
export function childSignal(parent: AbortSignal | undefined): { signal: AbortSignal; release: () => void } {
  const child = new AbortController();
  if (!parent) return { signal: child.signal, release: () => {} };
  if (parent.aborted) child.abort(parent.reason);
  const onAbort = () => child.abort(parent.reason);
  parent.addEventListener("abort", onAbort, { once: true });
  return { signal: child.signal, release: () => parent.removeEventListener("abort", onAbort) };
}
