/**
 * The simulator's idea of "now": real time plus an offset tests move forward with `advance`, so a
 * pause deadline an hour away can pass in a millisecond, or set with `skew` to stand for a
 * management cluster whose clock is ahead of or behind the laptop's. The API server serves it in
 * its `Date` header. Controllers re-evaluate on every change.
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
    this.changed();
  }

  /** Puts the clock `ms` away from real time (negative: behind), as a skewed server clock is. */
  skew(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`clock.skew needs a finite number of ms, got ${ms}`);
    this.offsetMs = ms;
    this.changed();
  }

  private changed(): void {
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
