import { durationFlag } from "../duration.js";
import { CancelledError, UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { type MetricsFlags, metricsReport } from "./metrics-options.js";
import { type EtcdFlags, etcdConnection, type StoreFlags, storeSettings } from "./options.js";
import { write } from "./output.js";

export interface ContinuousFlags extends Omit<EtcdFlags, "key">, StoreFlags, MetricsFlags {
  key?: string | boolean;
  to: string;
  name: string;
  member?: string;
  segment?: string;
  segmentMax?: string;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** `8MiB`, `512KiB`, `1048576`: a segment size from 64 KiB to 1 GiB. */
export function segmentSizeFlag(value: string): number {
  const m = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(value.trim());
  const bytes = m ? Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] as number) : Number.NaN;
  if (!(bytes >= 64 * 1024 && bytes <= 1024 ** 3))
    throw new UsageError(`--segment-max must be a size from 64KiB to 1GiB, like 8MiB, got "${value}"`);
  return bytes;
}

/** `backup --continuous`: runs until a signal; each full backup and segment is a line on stdout. */
export async function runContinuous(flags: ContinuousFlags, ctx: CliContext): Promise<void> {
  const segmentMs = durationFlag("--segment", flags.segment ?? "10s", "10s or 1m", {
    min: 1000,
    max: 3_600_000,
    text: "1s and 1h",
  });
  const segmentMaxBytes = segmentSizeFlag(flags.segmentMax ?? "8MiB");
  const metrics = await metricsReport(flags, ctx);
  const conn = await etcdConnection({ ...flags, key: typeof flags.key === "string" ? flags.key : undefined });
  const { openStore } = await import("../store/open-store.js");
  const { followEtcd } = await import("../continuous/follow.js");
  const store = openStore(flags.to, storeSettings(flags));
  const target = { cluster: flags.name, store: store.url };
  const follower = followEtcd({
    ...conn,
    store,
    label: flags.name,
    member: flags.member,
    signal: ctx.signal,
    logger: ctx.logger,
    segmentMs,
    segmentMaxBytes,
    onResume: (folder, from) => write(`resuming the chain of ${store.urlOf(folder)} at revision ${from}`),
    onFullBackup: (r, why) => {
      write(`full backup ${r.manifest.backupId} at revision ${r.manifest.snapshot.revision} (${why}): ${r.ref}`);
      metrics.succeeded(target, () => r.manifest)(r);
      void metrics.publishSoon();
    },
    onSegment: (s) => {
      write(`segment ${s.fromRevision}-${s.toRevision} committed: ${s.events} changes, ${s.bytes} bytes`);
      metrics.segmentCommitted(target, s);
      // Not awaited: the watch goes on while the metrics go out (publishing never throws).
      void metrics.publishSoon();
    },
  });
  try {
    await follower;
  } catch (err) {
    // A stop (SIGTERM) is how it ends normally; anything else is a failed run.
    if (err instanceof CancelledError) throw err;
    metrics.failed(target)(err);
  } finally {
    // What the last segment (the one a stop commits) set is published before the process exits.
    await metrics.publishSoon();
  }
}
