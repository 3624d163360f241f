/**
 * The simulator's idea of "now": real time plus an offset tests move forward with `advance`, so a
 * pause deadline an hour away can pass in a millisecond. Controllers re-evaluate on every advance.
 */
export class SimClock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`clock.advance needs a non-negative number of ms, got ${ms}`);
    this.offsetMs += ms;
    for (const l of [...this.listeners]) l();
  }

  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** An RFC 3339 timestamp in seconds, as Kubernetes writes metav1.Time. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
