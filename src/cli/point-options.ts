import type { Command } from "commander";
import type { RestorePoint } from "../continuous/replay.js";
import { UsageError } from "../errors.js";

/** `--at-revision` / `--at-time`: a point in a continuous backup's chain. */
export interface PointFlags {
  atRevision?: string;
  atTime?: string;
}

export function addPointOptions(cmd: Command): void {
  cmd
    .option(
      "--at-revision <rev>",
      "a continuous backup: the state at this etcd revision (the full snapshot plus its delta segments replayed up to it)",
    )
    .option(
      "--at-time <rfc3339>",
      "a continuous backup: the state at this time (every change the backup had received by then), e.g. 2026-12-06T15:04:05Z",
    );
}

/** The point asked for, checked at the edge; undefined: the backup's own snapshot. */
export function pointOf(flags: PointFlags): RestorePoint | undefined {
  if (flags.atRevision !== undefined && flags.atTime !== undefined)
    throw new UsageError("--at-revision and --at-time cannot be combined: pick one point");
  if (flags.atRevision !== undefined) {
    const revision = Number(flags.atRevision);
    if (!/^\d+$/.test(flags.atRevision) || !Number.isSafeInteger(revision) || revision < 1)
      throw new UsageError(`--at-revision must be a positive whole number, got "${flags.atRevision}"`);
    return { revision };
  }
  if (flags.atTime !== undefined) {
    const time = new Date(flags.atTime);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(flags.atTime) || Number.isNaN(time.getTime()))
      throw new UsageError(`--at-time must be an RFC 3339 time like 2026-12-06T15:04:05Z, got "${flags.atTime}"`);
    return { time };
  }
  return undefined;
}
