import { Pushgateway } from "prom-client";
import type { SegmentRecord } from "../continuous/segment.js";
import { describe } from "../errors.js";
import { shownEndpoint } from "../redact.js";
import type { Manifest, Verification } from "../store/manifest.js";
import { BackupMetrics, type MetricsTarget } from "./backup-metrics.js";
import { writeTextfile } from "./textfile.js";

export const PUSHGATEWAY_JOB = "hcp-etcd-backup";
const PUSH_TIMEOUT_MS = 10_000;

export interface MetricsDestinations {
  /** Pushgateway base URL (http or https), e.g. http://pushgateway:9091. */
  readonly pushgateway?: string;
  /** node-exporter textfile (`*.prom`), rewritten atomically. */
  readonly file?: string;
}

/** Pushgateway grouping labels in base64url: a cluster label holds '/', which a plain path segment cannot. */
export function groupingKey(target: MetricsTarget): Record<string, string> {
  const b64 = (v: string) => Buffer.from(v).toString("base64url") || "=";
  return { "cluster@base64": b64(target.cluster), "store@base64": b64(target.store) };
}

/**
 * Records a run's results and publishes them once at the end. Publishing never throws: metrics are
 * a report about the backup, and a Pushgateway that is down must not turn a stored, verified backup
 * into a failed Job (that would retry a good backup, or page for the wrong reason). Each destination
 * that fails gets one warning line; the stale-backup alert still catches a gateway that stays down.
 */
export class MetricsReporter {
  readonly metrics = new BackupMetrics();

  constructor(
    private readonly destinations: MetricsDestinations,
    private readonly warn: (line: string) => void,
  ) {}

  /**
   * For one backup's promise: `backup(...).then(reporter.succeeded(target, (r) => r.manifest), reporter.failed(target))`
   * records its success, with the manifest's facts, or its failure under `target`; the result or the
   * error passes through unchanged. A result without a manifest (a dry run) records nothing.
   */
  succeeded<T>(target: MetricsTarget, manifestOf: (r: T) => Manifest | undefined): (result: T) => T {
    return (result) => {
      const manifest = manifestOf(result);
      if (manifest) this.metrics.backupSucceeded(target, manifest);
      return result;
    };
  }

  failed(target: MetricsTarget): (err: unknown) => never {
    return (err) => {
      this.metrics.backupFailed(target);
      throw err;
    };
  }

  verified(target: MetricsTarget, verification: Verification): void {
    this.metrics.verified(target, verification);
  }

  segmentCommitted(target: MetricsTarget, record: SegmentRecord): void {
    this.metrics.segmentCommitted(target, record);
  }

  baseCovered(target: MetricsTarget, coverage: { readonly baseRevision: number; readonly coveredAt: string }): void {
    this.metrics.baseCovered(target, coverage);
  }

  private inFlight: Promise<void> | undefined;
  private again = false;

  /**
   * For a process that runs for days (`backup --continuous`): publishes now, or once more right after
   * the publish in flight, with the newest values. Never two at once and never a queue, so a slow
   * Pushgateway costs one pending publish, not one per segment.
   */
  publishSoon(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      do {
        this.again = false;
        await this.publish();
      } while (this.again);
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async publish(): Promise<void> {
    const targets = this.metrics.targets();
    if (targets.length === 0) return;
    const { pushgateway, file } = this.destinations;
    if (pushgateway) {
      // POST, not PUT: a group's other families stay (a failure keeps the last success beside it).
      let pushed = 0;
      try {
        for (const target of targets) {
          await new Pushgateway(pushgateway, { timeout: PUSH_TIMEOUT_MS }, this.metrics.registry([target])).pushAdd({
            jobName: PUSHGATEWAY_JOB,
            groupings: groupingKey(target),
          });
          pushed++;
        }
      } catch (err) {
        this.warn(
          `metrics not pushed to ${shownEndpoint(pushgateway)} (${targets.length - pushed} of ${targets.length} group(s)): ${describe(err).split("\n")[0]}; the backup's own result stands`,
        );
      }
    }
    if (file) {
      try {
        await writeTextfile(file, this.metrics);
      } catch (err) {
        this.warn(`metrics not written to ${file}: ${describe(err).split("\n")[0]}; the backup's own result stands`);
      }
    }
  }
}
