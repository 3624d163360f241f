// Delta segments written as `backup --continuous` commits them (segment object, then its record), for
// tests of the chain reader, list, prune and the fleet view that need chains without following an etcd.

import {
  encodeEvent,
  recordKey,
  SEGMENT_MAGIC,
  type SegmentEvent,
  type SegmentRecord,
  segmentKey,
  sha256Hex,
} from "../../src/continuous/segment.js";
import type { Manifest } from "../../src/store/manifest.js";
import type { Store } from "../../src/store/store.js";

/** One put per revision from..to, keys `k<rev % 5>`, every fourth a delete; received `at` ms apart from `startMs`. */
export function eventsFor(from: number, to: number, startMs = Date.parse("2026-12-01T10:00:00Z")): SegmentEvent[] {
  const out: SegmentEvent[] = [];
  for (let rev = from; rev <= to; rev++)
    out.push({
      type: rev % 4 === 0 ? "delete" : "put",
      revision: rev,
      at: startMs + (rev - from) * 100,
      key: Buffer.from(`k${rev % 5}`),
      value: rev % 4 === 0 ? Buffer.alloc(0) : Buffer.from(`v${rev}`),
      lease: "0",
      leaseTtl: 0,
    });
  return out;
}

export function segmentBytes(events: readonly SegmentEvent[]): Buffer {
  return Buffer.concat([SEGMENT_MAGIC, ...events.map(encodeEvent)]);
}

/**
 * Writes one segment covering from..to under `folder`; `commit: false` leaves it as a writer killed
 * between the two writes does (no record). Returns the record.
 */
export async function putSegment(
  store: Store,
  folder: string,
  base: { backupId: string; revision: number },
  range: { from: number; to: number; closedAt: Date },
  options: { commit?: boolean } = {},
): Promise<SegmentRecord> {
  const events = eventsFor(range.from, range.to, range.closedAt.getTime() - 1000);
  const body = segmentBytes(events);
  const record: SegmentRecord = {
    schemaVersion: 1,
    baseBackupId: base.backupId,
    baseRevision: base.revision,
    fromRevision: range.from,
    toRevision: range.to,
    events: events.length,
    bytes: body.length,
    sha256: sha256Hex(body),
    openedAt: new Date(range.closedAt.getTime() - 1000).toISOString(),
    closedAt: range.closedAt.toISOString(),
  };
  await store.put(segmentKey(folder, range.from, range.to), body);
  if (options.commit !== false)
    await store.put(recordKey(folder, range.from, range.to), Buffer.from(`${JSON.stringify(record)}\n`));
  return record;
}

/** Segments of `size` revisions each after the manifest's revision, closed `stepMs` apart after its creation. */
export async function putChain(
  store: Store,
  manifest: Manifest,
  segments: number,
  options: { size?: number; stepMs?: number } = {},
): Promise<SegmentRecord[]> {
  const size = options.size ?? 10;
  const step = options.stepMs ?? 10_000;
  const folder = `${manifest.label}/${manifest.backupId}`;
  const base = { backupId: manifest.backupId, revision: manifest.snapshot.revision };
  const out: SegmentRecord[] = [];
  for (let i = 0; i < segments; i++) {
    const from = base.revision + 1 + i * size;
    out.push(
      await putSegment(store, folder, base, {
        from,
        to: from + size - 1,
        closedAt: new Date(Date.parse(manifest.createdAt) + (i + 1) * step),
      }),
    );
  }
  return out;
}
