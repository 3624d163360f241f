import { durationFlag } from "../duration.js";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { type EtcdFlags, etcdConnection, type StoreFlags, storeSettings } from "./options.js";
import { write } from "./output.js";

export interface ContinuousFlags extends Omit<EtcdFlags, "key">, StoreFlags {
  key?: string | boolean;
  to: string;
  name: string;
  member?: string;
  segment?: string;
  segmentMax?: string;
  fullEvery?: string;
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
  // Seconds are allowed (tests, drills); a chain shorter than its segments would hold one segment each.
  const fullEveryMs =
    flags.fullEvery === undefined
      ? undefined
      : durationFlag("--full-every", flags.fullEvery, "6h or 1d", {
          min: 1000,
          max: 30 * 86_400_000,
          text: "1s and 30d",
        });
  const conn = await etcdConnection({ ...flags, key: typeof flags.key === "string" ? flags.key : undefined });
  const { openStore } = await import("../store/open-store.js");
  const { followEtcd } = await import("../continuous/follow.js");
  const store = openStore(flags.to, storeSettings(flags));
  await followEtcd({
    ...conn,
    store,
    label: flags.name,
    member: flags.member,
    signal: ctx.signal,
    logger: ctx.logger,
    segmentMs,
    segmentMaxBytes,
    ...(fullEveryMs === undefined ? {} : { fullEveryMs }),
    onResume: (folder, from) => write(`resuming the chain of ${store.urlOf(folder)} at revision ${from}`),
    onFullBackup: (r, why) =>
      write(`full backup ${r.manifest.backupId} at revision ${r.manifest.snapshot.revision} (${why}): ${r.ref}`),
    onSegment: (s) =>
      write(`segment ${s.fromRevision}-${s.toRevision} committed: ${s.events} changes, ${s.bytes} bytes`),
  });
}
