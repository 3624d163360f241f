import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readChain, readSegment, verifyChain } from "../../src/continuous/chain.js";
import {
  type BaseCoverage,
  coverageKey,
  decodeSegment,
  encodeEvent,
  parseRecord,
  recordKey,
  SEGMENT_MAGIC,
  segmentKey,
  sha256Hex,
} from "../../src/continuous/segment.js";
import { chainWindow, indexChain } from "../../src/continuous/window.js";
import { VerificationError } from "../../src/errors.js";
import { readCatalog } from "../../src/store/catalog.js";
import { LocalStore } from "../../src/store/local-store.js";
import type { Store } from "../../src/store/store.js";
import { eventsFor, putChain, putSegment, segmentBytes } from "../support/chains.js";
import { putBackups } from "../support/fleet-manifests.js";

const CREATED = new Date("2026-12-01T10:00:00Z");

describe("segment codec", () => {
  it("round trip: puts and deletes, binary keys and values, empty values, revisions past 2^32", () => {
    const events = [
      ...eventsFor(1, 9),
      {
        type: "put" as const,
        revision: 2 ** 40,
        at: 1,
        key: Buffer.from([0, 255, 10]),
        value: Buffer.alloc(70_000, 7),
        lease: "7587862015329953547",
        leaseTtl: 3600,
      },
      {
        type: "put" as const,
        revision: 2 ** 40 + 1,
        at: 2,
        key: Buffer.from("empty"),
        value: Buffer.alloc(0),
        lease: "0",
        leaseTtl: 0,
      },
    ];
    const back = decodeSegment(segmentBytes(events), "x");
    assert.deepEqual(back, events);
    assert.deepEqual(decodeSegment(SEGMENT_MAGIC, "x"), [], "a segment with no events decodes to none");
  });

  it("a cut inside a frame is refused at every byte; a cut at a frame boundary decodes (the record's size catches it)", () => {
    const events = eventsFor(1, 4);
    const bytes = segmentBytes(events);
    const boundaries = new Set<number>();
    let o = SEGMENT_MAGIC.length;
    boundaries.add(o);
    for (const e of events) {
      o += encodeEvent(e).length;
      boundaries.add(o);
    }
    let refused = 0;
    for (let cut = SEGMENT_MAGIC.length; cut < bytes.length; cut++) {
      const part = bytes.subarray(0, cut);
      if (boundaries.has(cut)) assert.ok(decodeSegment(part, "x").length < events.length);
      else {
        assert.throws(() => decodeSegment(part, "s3://b/seg"), /segment s3:\/\/b\/seg is damaged: truncated/);
        refused++;
      }
    }
    // Every cut but the header's end and the frame ends before the last.
    assert.equal(refused, bytes.length - SEGMENT_MAGIC.length - events.length);
  });

  it("refuses a wrong header and an unknown event type", () => {
    const bytes = segmentBytes(eventsFor(1, 2));
    const header = Buffer.from(bytes);
    header[0] = 0x41;
    assert.throws(() => decodeSegment(header, "x"), /does not start with the segment header/);
    const type = Buffer.from(bytes);
    type[SEGMENT_MAGIC.length] = 2;
    assert.throws(() => decodeSegment(type, "x"), /unknown event type 2/);
  });

  it("a record that is not JSON or not a record is a VerificationError naming it", () => {
    assert.throws(
      () => parseRecord(Buffer.from("{"), "/s/r.json"),
      (e: Error) => e instanceof VerificationError && /\/s\/r.json is not JSON/.test(e.message),
    );
    assert.throws(() => parseRecord(Buffer.from('{"schemaVersion":1}'), "/s/r.json"), /\/s\/r.json is invalid/);
  });
});

describe("chain reader and window (local store)", () => {
  let dir: string;
  let n = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-chain-"));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const BASE = { backupId: "b", revision: 100 };
  const at = (s: number) => new Date(CREATED.getTime() + s * 1000);
  /** A fresh store and folder per test. */
  const fresh = (): { store: Store; folder: string } => ({
    store: new LocalStore(join(dir, `s${n++}`)),
    folder: "pitr/b",
  });

  it("reads committed segments in revision order and proves each against its record", async () => {
    const { store, folder } = fresh();
    // Written out of order: the reader sorts by revision, not by write order.
    await putSegment(store, folder, BASE, { from: 111, to: 125, closedAt: at(20) });
    await putSegment(store, folder, BASE, { from: 101, to: 110, closedAt: at(10) });
    const chain = await readChain(store, folder, 100);
    assert.deepEqual(
      chain.records.map((r) => [r.fromRevision, r.toRevision]),
      [
        [101, 110],
        [111, 125],
      ],
    );
    assert.deepEqual(chain.problems, []);
    assert.equal(chain.contiguousTo, 125);
    const events = await readSegment(store, folder, chain.records[1] as never);
    assert.deepEqual(events, eventsFor(111, 125, at(19).getTime()));
    const check = await verifyChain(store, folder, 100);
    assert.deepEqual(check, { segments: 2, events: 25, toRevision: 125, problems: [] });
  });

  it("an uncommitted segment object (no record) is never listed, and not a gap either", async () => {
    const { store, folder } = fresh();
    await putSegment(store, folder, BASE, { from: 101, to: 110, closedAt: at(10) });
    await putSegment(store, folder, BASE, { from: 111, to: 120, closedAt: at(20) }, { commit: false });
    const chain = await readChain(store, folder, 100);
    assert.deepEqual(
      chain.records.map((r) => r.toRevision),
      [110],
    );
    assert.deepEqual(chain.uncommitted, [segmentKey(folder, 111, 120)]);
    assert.deepEqual(chain.problems, []);
    assert.equal(chain.contiguousTo, 110);
  });

  it("a gap and an overlap are problems; the chain is usable up to the first", async () => {
    const { store, folder } = fresh();
    await putSegment(store, folder, BASE, { from: 101, to: 110, closedAt: at(10) });
    await putSegment(store, folder, BASE, { from: 116, to: 120, closedAt: at(20) });
    await putSegment(store, folder, BASE, { from: 118, to: 130, closedAt: at(30) });
    const chain = await readChain(store, folder, 100);
    assert.equal(chain.contiguousTo, 110);
    assert.deepEqual(chain.problems, [
      "revisions 111..115 are missing from the chain (gap before segment 116-120)",
      "segment 118-130 overlaps the one before it (expected it to start at 121)",
    ]);
    const missingFirst = fresh();
    await putSegment(missingFirst.store, missingFirst.folder, BASE, { from: 102, to: 110, closedAt: at(10) });
    const c2 = await readChain(missingFirst.store, missingFirst.folder, 100);
    assert.equal(c2.contiguousTo, 100, "a chain whose first revision is missing restores the base only");
  });

  it("an unreadable record stops the chain at its base", async () => {
    const { store, folder } = fresh();
    await putSegment(store, folder, BASE, { from: 101, to: 110, closedAt: at(10) });
    await putSegment(store, folder, BASE, { from: 111, to: 120, closedAt: at(20) });
    await store.put(recordKey(folder, 111, 120), Buffer.from("{not json"));
    const chain = await readChain(store, folder, 100);
    assert.equal(chain.contiguousTo, 100);
    assert.match(chain.problems[0] ?? "", /segment record .*0000000000000111-0000000000000120\.json is not JSON/);
  });

  it("a tampered segment: a flipped byte, a cut at a frame boundary, a record that lies about its events", async () => {
    const { store, folder } = fresh();
    const [r1, r2, r3] = await Promise.all([
      putSegment(store, folder, BASE, { from: 101, to: 110, closedAt: at(10) }),
      putSegment(store, folder, BASE, { from: 111, to: 120, closedAt: at(20) }),
      putSegment(store, folder, BASE, { from: 121, to: 130, closedAt: at(30) }),
    ]);
    const flipped = Buffer.from(await store.read(segmentKey(folder, 101, 110)));
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
    await store.put(segmentKey(folder, 101, 110), flipped);
    await assert.rejects(readSegment(store, folder, r1), /is damaged: .* SHA-256 [0-9a-f]{64}, its record says/);

    const whole = await store.read(segmentKey(folder, 111, 120));
    const cut = whole.subarray(0, whole.length - encodeEvent(eventsFor(120, 120)[0] as never).length);
    assert.equal(decodeSegment(cut, "x").length, 9, "the cut is at a frame boundary: it decodes");
    await store.put(segmentKey(folder, 111, 120), cut);
    await assert.rejects(
      readSegment(store, folder, r2),
      (e: Error) => e instanceof VerificationError && /damaged/.test(e.message),
    );

    // The record rewritten to match the bytes, but not the event count: still caught.
    const bytes = await store.read(segmentKey(folder, 121, 130));
    const lying = { ...r3, events: 11, sha256: sha256Hex(bytes) };
    await assert.rejects(readSegment(store, folder, lying), /holds 10 events, its record says 11/);
    // And one whose events run past the range its name and record give.
    const wide = segmentBytes(eventsFor(131, 140));
    const narrow = { ...r3, fromRevision: 131, toRevision: 135, bytes: wide.length, sha256: sha256Hex(wide) };
    await store.put(segmentKey(folder, 131, 135), wide);
    await assert.rejects(readSegment(store, folder, narrow), /revision 136, outside its range/);

    const check = await verifyChain(store, folder, 100);
    assert.equal(check.problems.length, 2, check.problems.join("\n"));
    assert.equal(check.segments, 3);
  });

  it("the window from names and one record: uncommitted never counted, a gap ends it, a bad newest record walks back", async () => {
    const { store } = fresh();
    const [m] = await putBackups(store, [{ namespace: "clusters", name: "a", createdAt: CREATED, size: 4096 }]);
    if (!m) throw new Error("no manifest");
    const records = await putChain(store, m, 3, { size: 10, stepMs: 10_000 });
    const folder = `${m.label}/${m.backupId}`;
    const base = m.snapshot.revision;
    // A half-written newest segment, just after the last committed one.
    await putSegment(
      store,
      folder,
      { backupId: m.backupId, revision: base },
      { from: base + 31, to: base + 40, closedAt: at(40) },
      { commit: false },
    );
    const entry = async () =>
      (await readCatalog(store)).backups[0] as NonNullable<Awaited<ReturnType<typeof readCatalog>>["backups"][number]>;
    const w = await chainWindow(store, await entry());
    assert.deepEqual(w, {
      fromRevision: base,
      toRevision: base + 30,
      fromTime: m.createdAt,
      toTime: records[2]?.closedAt,
      segments: 3,
      uncommitted: 1,
      problems: [],
    });

    // The newest record replaced by one whose range is not its name's: the window ends at the one before.
    await store.put(
      recordKey(folder, base + 21, base + 30),
      Buffer.from(JSON.stringify({ ...records[2], toRevision: base + 29 })),
    );
    const walked = await chainWindow(store, await entry());
    assert.equal(walked?.toRevision, base + 20);
    assert.equal(walked?.toTime, records[1]?.closedAt);
    assert.equal(walked?.segments, 2);
    assert.match(walked?.problems[0] ?? "", /says revisions \d+-\d+, its name/);

    // A gap: the segment after it is committed but outside the window.
    await putSegment(
      store,
      folder,
      { backupId: m.backupId, revision: base },
      { from: base + 45, to: base + 50, closedAt: at(50) },
    );
    const gapped = indexChain((await entry()).deltas?.map((d) => d.key) ?? [], base);
    assert.equal(gapped.contiguousTo, base + 30);
    assert.match(gapped.problems[0] ?? "", /missing from the chain/);

    // A record the store cannot give (removed since the listing) is the store's failure, not a chain finding.
    const listed = await entry();
    await store.delete([recordKey(folder, base + 11, base + 20), recordKey(folder, base + 1, base + 10)]);
    await assert.rejects(
      chainWindow(store, listed),
      (e: Error) => !(e instanceof VerificationError) && /does not exist/.test(e.message),
    );
  });

  it("the base's idle coverage: the window of a chain without records ends at it, never once a record exists, never a foreign or invalid one", async () => {
    const { store } = fresh();
    const [m] = await putBackups(store, [{ namespace: "clusters", name: "a", createdAt: CREATED, size: 4096 }]);
    if (!m) throw new Error("no manifest");
    const folder = `${m.label}/${m.backupId}`;
    const base = m.snapshot.revision;
    const coverage: BaseCoverage = {
      schemaVersion: 1,
      baseBackupId: m.backupId,
      baseRevision: base,
      coveredAt: at(30).toISOString(),
    };
    const putCoverage = (c: unknown) => store.put(coverageKey(folder), Buffer.from(JSON.stringify(c)));
    const entry = async () =>
      (await readCatalog(store)).backups[0] as NonNullable<Awaited<ReturnType<typeof readCatalog>>["backups"][number]>;
    await putCoverage(coverage);
    assert.deepEqual((await entry()).deltas?.length, 1, "the coverage object counts with its backup (pruned with it)");
    assert.deepEqual(await chainWindow(store, await entry()), {
      fromRevision: base,
      toRevision: base,
      fromTime: m.createdAt,
      toTime: coverage.coveredAt,
      segments: 0,
      uncommitted: 0,
      problems: [],
      baseCoveredAt: coverage.coveredAt,
    });
    const chain = await readChain(store, folder, base);
    assert.deepEqual(chain.problems, [], "not a malformed segment record");
    assert.deepEqual(chain.records, []);
    assert.deepEqual(chain.coverage, coverage);
    assert.deepEqual((await verifyChain(store, folder, base)).problems, []);
    assert.deepEqual(indexChain([coverageKey(folder)], base).problems, []);

    // Not this base's (another backup's, another revision), or not a coverage: claims nothing.
    for (const bad of [
      { ...coverage, baseBackupId: "other" },
      { ...coverage, baseRevision: base + 1 },
      { ...coverage, coveredAt: "soon" },
      { ...coverage, schemaVersion: 2 },
    ]) {
      await putCoverage(bad);
      const w = await chainWindow(store, await entry());
      assert.equal(w?.toTime, m.createdAt, JSON.stringify(bad));
      assert.equal(w?.baseCoveredAt, undefined);
      if (bad.baseBackupId === m.backupId)
        assert.equal((await readChain(store, folder, base)).coverage, undefined, JSON.stringify(bad));
    }
    await store.put(coverageKey(folder), Buffer.from("{ half"));
    assert.equal((await chainWindow(store, await entry()))?.toTime, m.createdAt);
    assert.equal((await readChain(store, folder, base)).coverage, undefined);

    // The first record supersedes it, even left behind with a later time.
    await putCoverage({ ...coverage, coveredAt: at(3600).toISOString() });
    const [record] = await putChain(store, m, 1, { size: 10, stepMs: 10_000 });
    const w = await chainWindow(store, await entry());
    assert.equal(w?.toRevision, base + 10);
    assert.equal(w?.toTime, record?.closedAt);
    assert.equal(w?.baseCoveredAt, undefined);
    assert.equal((await readChain(store, folder, base)).coverage, undefined);
    // An unreadable record supersedes it too: it may hide any range.
    await store.put(recordKey(folder, base + 1, base + 10), Buffer.from("{ half"));
    const broken = await chainWindow(store, await entry());
    assert.equal(broken?.toTime, m.createdAt);
    assert.equal(broken?.baseCoveredAt, undefined);
    assert.equal(broken?.problems.length, 1);
  });

  it("the catalog: segments belong to their backup; a folder left with segments alone is a leftover", async () => {
    const { store } = fresh();
    const [m] = await putBackups(store, [{ namespace: "clusters", name: "a", createdAt: CREATED, size: 4096 }]);
    if (!m) throw new Error("no manifest");
    await putChain(store, m, 2);
    const catalog = await readCatalog(store);
    assert.equal(catalog.backups.length, 1);
    assert.equal(catalog.backups[0]?.deltas?.length, 4, "two segments and their records");
    assert.deepEqual(catalog.leftovers, []);
    const folder = `${m.label}/${m.backupId}`;
    await store.delete([`${folder}/manifest.json`, `${folder}/snapshot.db`]);
    const after = await readCatalog(store);
    assert.deepEqual(after.backups, []);
    assert.deepEqual(
      after.leftovers.map((l) => [l.folder, l.keys.length]),
      [[folder, 4]],
    );
    assert.equal(await chainWindow(store, { folder, manifest: m }), undefined, "no deltas, no window");
  });
});
