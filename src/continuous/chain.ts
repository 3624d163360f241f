import { VerificationError } from "../errors.js";
import type { Store } from "../store/store.js";
import { joinKey } from "../store/store.js";
import {
  type BaseCoverage,
  coverageKey,
  DELTAS_DIR,
  decodeSegment,
  parseCoverage,
  parseRecord,
  type SegmentEvent,
  type SegmentRecord,
  segmentKey,
  sha256Hex,
} from "./segment.js";

export interface Chain {
  /** Committed segments in revision order. */
  readonly records: readonly SegmentRecord[];
  /** Segment objects without a record: not committed (a writer killed between the two writes). */
  readonly uncommitted: readonly string[];
  /** Gaps, overlaps and unreadable records: a chain with problems is not replayed past the first one. */
  readonly problems: readonly string[];
  /** The last revision replayable without crossing a problem (the base revision when there is none). */
  readonly contiguousTo: number;
  /**
   * The base's idle coverage (segment.ts, COVERAGE_FILE): only while the chain has no record at all,
   * and only a valid one naming this base.
   */
  readonly coverage?: BaseCoverage;
}

/**
 * The committed segments of the backup in `folder` (relative to the store's root; "" when the store is
 * the backup's folder), from their records. Records are small; the segments are not read here.
 */
export async function readChain(
  store: Store,
  folder: string,
  baseRevision: number,
  signal?: AbortSignal,
): Promise<Chain> {
  const prefix = joinKey(folder, DELTAS_DIR);
  const keys: string[] = [];
  for await (const o of store.list(prefix, signal ? { signal } : {})) keys.push(o.key);
  const coverageAt = coverageKey(folder);
  const recordKeys = new Set(keys.filter((k) => k.endsWith(".json") && k !== coverageAt));
  const uncommitted = keys.filter((k) => k.endsWith(".seg") && !recordKeys.has(`${k.slice(0, -4)}.json`));
  const records: SegmentRecord[] = [];
  const problems: string[] = [];
  for (const key of [...recordKeys].sort()) {
    try {
      records.push(parseRecord(await store.read(key, signal ? { signal } : {}), store.urlOf(key)));
    } catch (err) {
      if (signal?.aborted) throw err;
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  records.sort((a, b) => a.fromRevision - b.fromRevision);
  // An unreadable record may hide any range: nothing past the base is trusted then.
  const unreadable = problems.length > 0;
  const ranges = checkContiguity(records, baseRevision);
  problems.push(...ranges.problems);
  // Any record, even an unreadable one, supersedes the base's coverage.
  const coverage =
    recordKeys.size === 0 && keys.includes(coverageAt)
      ? await readBaseCoverage(store, coverageAt, { revision: baseRevision }, signal)
      : undefined;
  return {
    records,
    uncommitted,
    problems,
    contiguousTo: unreadable ? baseRevision : ranges.contiguousTo,
    ...(coverage ? { coverage } : {}),
  };
}

/**
 * The base's idle coverage at `key`, when it is valid and names this base (its revision, and its
 * backup ID when known); undefined otherwise: an invalid or foreign one claims nothing, and the chain
 * then reads as covered until the base's creation (an RPO that ages, never one that hides a problem).
 * Gone since it was listed (the first segment committed meanwhile): undefined too.
 */
export async function readBaseCoverage(
  store: Store,
  key: string,
  base: { readonly revision: number; readonly backupId?: string },
  signal?: AbortSignal,
): Promise<BaseCoverage | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.read(key, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted || (await store.exists(key, signal ? { signal } : {}))) throw err;
    return undefined;
  }
  try {
    const c = parseCoverage(bytes, store.urlOf(key));
    if (c.baseRevision !== base.revision || (base.backupId !== undefined && c.baseBackupId !== base.backupId))
      return undefined;
    return c;
  } catch (err) {
    if (err instanceof VerificationError) return undefined;
    throw err;
  }
}

export interface RevisionRange {
  readonly fromRevision: number;
  readonly toRevision: number;
}

/**
 * Gaps and overlaps of segment ranges sorted by `fromRevision`, against a chain that starts at
 * `baseRevision` + 1, and the last revision reachable before the first of them.
 */
export function checkContiguity(
  ranges: readonly RevisionRange[],
  baseRevision: number,
): { problems: string[]; contiguousTo: number } {
  const problems: string[] = [];
  let next = baseRevision + 1;
  let contiguousTo = Number.POSITIVE_INFINITY;
  for (const r of ranges) {
    if (r.fromRevision !== next) {
      problems.push(
        r.fromRevision > next
          ? `revisions ${next}..${r.fromRevision - 1} are missing from the chain (gap before segment ${r.fromRevision}-${r.toRevision})`
          : `segment ${r.fromRevision}-${r.toRevision} overlaps the one before it (expected it to start at ${next})`,
      );
      contiguousTo = Math.min(contiguousTo, next - 1);
    }
    next = Math.max(next, r.toRevision + 1);
  }
  return { problems, contiguousTo: contiguousTo === Number.POSITIVE_INFINITY ? next - 1 : contiguousTo };
}

/** Reads one segment whole (at most --segment-max bytes) and proves it against its record. */
export async function readSegment(
  store: Store,
  folder: string,
  record: SegmentRecord,
  signal?: AbortSignal,
): Promise<SegmentEvent[]> {
  const key = segmentKey(folder, record.fromRevision, record.toRevision);
  const where = store.urlOf(key);
  const bytes = await store.read(key, signal ? { signal } : {});
  const sha = sha256Hex(bytes);
  if (bytes.length !== record.bytes || sha !== record.sha256)
    throw new VerificationError(
      `segment ${where} is damaged: ${bytes.length} bytes with SHA-256 ${sha}, its record says ${record.bytes} bytes with ${record.sha256}`,
    );
  const events = decodeSegment(bytes, where);
  if (events.length !== record.events)
    throw new VerificationError(`segment ${where} holds ${events.length} events, its record says ${record.events}`);
  for (const e of events)
    if (e.revision < record.fromRevision || e.revision > record.toRevision)
      throw new VerificationError(`segment ${where} holds revision ${e.revision}, outside its range`);
  return events;
}

export interface ChainCheck {
  readonly segments: number;
  readonly events: number;
  readonly toRevision: number;
  readonly problems: readonly string[];
}

/** What `verify` does to a chain: every record read, every segment read and proven, ranges contiguous. */
export async function verifyChain(
  store: Store,
  folder: string,
  baseRevision: number,
  signal?: AbortSignal,
): Promise<ChainCheck> {
  const chain = await readChain(store, folder, baseRevision, signal);
  const problems = [...chain.problems];
  let events = 0;
  for (const r of chain.records) {
    try {
      events += (await readSegment(store, folder, r, signal)).length;
    } catch (err) {
      if (signal?.aborted || !(err instanceof VerificationError)) throw err;
      problems.push(err.message);
    }
  }
  const last = chain.records.at(-1);
  return { segments: chain.records.length, events, toRevision: last ? last.toRevision : baseRevision, problems };
}
