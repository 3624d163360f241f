/**
 * Seconds per phase of a run, in the order the phases ran: what the manifest's `timings.phases`
 * records and what the logs report.
 */
export class PhaseTimer {
  readonly seconds: Record<string, number> = {};

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      this.seconds[phase] = (Date.now() - t0) / 1000;
    }
  }
}
