import { allowListeners, mapBounded } from "../concurrency.js";
import { VerificationError } from "../errors.js";
import type { DeltaObject } from "../store/catalog.js";
import type { Manifest } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { checkContiguity, type RevisionRange, readBaseCoverage } from "./chain.js";
import { coverageKey, coveredUntil, parseRecord, recordKey } from "./segment.js";

/**
 * What a continuous backup can be restored to: any revision from its base's to `toRevision`, any
 * time from its base's creation to `toTime` (the close of the newest committed segment reachable
 * without crossing a gap, or the later time the follower found etcd idle since; for a chain with no
 * segment record yet, the base's idle coverage when there is one). Committed means a
 * record exists: a segment object alone is a writer killed between the two writes and is never counted.
 */
export interface ChainWindow {
  readonly fromRevision: number;
  readonly toRevision: number;
  readonly fromTime: string;
  readonly toTime: string;
  /** Committed segments inside the window. */
  readonly segments: number;
  /** Segment objects without a record (not counted; the writer removes them when it resumes). */
  readonly uncommitted: number;
  /** Gaps, overlaps, an unreadable newest record: the window stops before the first. */
  readonly problems: readonly string[];
  /**
   * Set when `toTime` comes from the base's idle coverage (no segment record yet, etcd idle since the
   * full backup): the time the follower last found no revision after the base's.
   */
  readonly baseCoveredAt?: string;
}

const NAME = /\/(\d{16})-(\d{16})\.(seg|json)$/;

interface Named extends RevisionRange {
  readonly kind: "seg" | "json";
}

/** The range a delta object's name gives (`.../deltas/<from>-<to>.seg|json`); undefined for anything else. */
export function parseSegmentKey(key: string): Named | undefined {
  const m = NAME.exec(key);
  if (!m) return undefined;
  return { fromRevision: Number(m[1]), toRevision: Number(m[2]), kind: m[3] as "seg" | "json" };
}

/**
 * The committed ranges of a chain from its objects' names alone (no reads): sorted, checked for gaps
 * and overlaps, the uncommitted segment objects counted apart.
 */
export function indexChain(
  keys: readonly string[],
  baseRevision: number,
): { committed: RevisionRange[]; uncommitted: number; problems: string[]; contiguousTo: number } {
  const names = keys.map(parseSegmentKey).filter((n): n is Named => n !== undefined);
  const recorded = new Set(names.filter((n) => n.kind === "json").map((n) => `${n.fromRevision}-${n.toRevision}`));
  const committed = names.filter((n) => n.kind === "json").sort((a, b) => a.fromRevision - b.fromRevision);
  const uncommitted = names.filter((n) => n.kind === "seg" && !recorded.has(`${n.fromRevision}-${n.toRevision}`));
  const { problems, contiguousTo } = checkContiguity(committed, baseRevision);
  return { committed, uncommitted: uncommitted.length, problems, contiguousTo };
}

/**
 * The restorable window of a backup with delta segments (undefined for one without). Reads one record,
 * the newest reachable one (its close time is the window's end); a record that cannot be read or does
 * not match its name ends the window at the one before it, with the problem said. Segments themselves
 * are not read: `verify` proves them, and a damaged one stops a restore at it. A chain without any
 * record reads the base's idle coverage instead, when the follower wrote one.
 */
export async function chainWindow(
  store: Store,
  backup: { readonly folder: string; readonly manifest: Manifest; readonly deltas?: readonly DeltaObject[] },
  signal?: AbortSignal,
): Promise<ChainWindow | undefined> {
  if (!backup.deltas || backup.deltas.length === 0) return undefined;
  const base = backup.manifest.snapshot.revision;
  const index = indexChain(
    backup.deltas.map((d) => d.key),
    base,
  );
  const problems = [...index.problems];
  const reachable = index.committed.filter((r) => r.toRevision <= index.contiguousTo);
  let toRevision = base;
  let toTime = backup.manifest.createdAt;
  let segments = 0;
  for (let i = reachable.length - 1; i >= 0; i--) {
    const r = reachable[i] as RevisionRange;
    const key = recordKey(backup.folder, r.fromRevision, r.toRevision);
    try {
      const record = parseRecord(await store.read(key, signal ? { signal } : {}), store.urlOf(key));
      if (record.fromRevision !== r.fromRevision || record.toRevision !== r.toRevision)
        throw new VerificationError(
          `segment record ${store.urlOf(key)} says revisions ${record.fromRevision}-${record.toRevision}, its name ${r.fromRevision}-${r.toRevision}`,
        );
      toRevision = r.toRevision;
      toTime = coveredUntil(record);
      segments = i + 1;
      break;
    } catch (err) {
      // A record that is not one is a finding about the chain; a store that fails to answer is not.
      if (!(err instanceof VerificationError)) throw err;
      problems.push(err.message);
    }
  }
  // Only while no record exists at all: the first one (even an unreadable one) supersedes it.
  const coverageAt = coverageKey(backup.folder);
  const coverage =
    index.committed.length === 0 && backup.deltas.some((d) => d.key === coverageAt)
      ? await readBaseCoverage(store, coverageAt, { revision: base, backupId: backup.manifest.backupId }, signal)
      : undefined;
  const baseCoveredAt =
    coverage && Date.parse(coverage.coveredAt) > Date.parse(toTime) ? coverage.coveredAt : undefined;
  return {
    fromRevision: base,
    toRevision,
    fromTime: backup.manifest.createdAt,
    toTime: baseCoveredAt ?? toTime,
    ...(baseCoveredAt ? { baseCoveredAt } : {}),
    segments,
    uncommitted: index.uncommitted,
    problems,
  };
}

/** Record reads in flight at once when windows of many backups are wanted (one small GET each). */
const WINDOW_READS = 16;

/** The windows of those `backups` that have delta segments, keyed by folder, a few reads at a time. */
export async function chainWindows(
  store: Store,
  backups: ReadonlyArray<{
    readonly folder: string;
    readonly manifest: Manifest;
    readonly deltas?: readonly DeltaObject[];
  }>,
  signal?: AbortSignal,
): Promise<Map<string, ChainWindow>> {
  const chained = backups.filter((b) => (b.deltas?.length ?? 0) > 0);
  allowListeners(signal, WINDOW_READS);
  const windows = await mapBounded(chained, WINDOW_READS, (b) => chainWindow(store, b, signal));
  const out = new Map<string, ChainWindow>();
  chained.forEach((b, i) => {
    const w = windows[i];
    if (w) out.set(b.folder, w);
  });
  return out;
}
