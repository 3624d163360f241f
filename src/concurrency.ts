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
