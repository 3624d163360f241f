import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import type { BackupEntry } from "../../src/store/catalog.js";
import type { Manifest } from "../../src/store/manifest.js";
import { planRetention } from "../../src/store/retention.js";

/** A backup as the catalog sees it; only label, time and verification matter to retention. */
function entry(label: string, createdAt: string, verified = true): BackupEntry {
  const manifest = { label, createdAt, verifications: [] } as unknown as Manifest;
  return { ref: `/store/${label}/${createdAt}`, folder: `${label}/${createdAt}`, manifest, verified };
}

// A fixed calendar: 2026-11-30 is a Monday (ISO week 49); 11-29 and 11-28 are in week 48.
const mon10 = entry("a", "2026-11-30T10:00:00.000Z");
const mon08 = entry("a", "2026-11-30T08:00:00.000Z");
const sun12 = entry("a", "2026-11-29T12:00:00.000Z");
const sat12 = entry("a", "2026-11-28T12:00:00.000Z");
const fri20 = entry("a", "2026-11-20T12:00:00.000Z");
const tue10 = entry("a", "2026-11-10T12:00:00.000Z");
const all = [sat12, mon08, tue10, mon10, fri20, sun12]; // order must not matter

const kept = (plan: ReturnType<typeof planRetention>) => plan.keep.map((k) => k.entry.manifest.createdAt).sort();
const times = (...e: BackupEntry[]) => e.map((x) => x.manifest.createdAt).sort();

describe("planRetention (pure, fixed dates)", () => {
  it("keep-last keeps the newest N", () => {
    const plan = planRetention(all, { keepLast: 2 });
    assert.deepEqual(kept(plan), times(mon10, mon08));
    assert.equal(plan.remove.length, 4);
  });

  it("keep-daily keeps the newest of each of the last N days", () => {
    assert.deepEqual(kept(planRetention(all, { keepDaily: 3 })), times(mon10, sun12, sat12));
  });

  it("keep-weekly keeps the newest of each of the last N ISO weeks (Monday starts a week)", () => {
    assert.deepEqual(kept(planRetention(all, { keepWeekly: 3 })), times(mon10, sun12, fri20));
  });

  it("rules combine, and each kept backup says why", () => {
    const plan = planRetention(all, { keepLast: 1, keepDaily: 2, keepWeekly: 4 });
    assert.deepEqual(kept(plan), times(mon10, sun12, fri20, tue10));
    assert.deepEqual(plan.keep.find((k) => k.entry === mon10)?.reasons, ["last", "daily", "weekly", "newest verified"]);
  });

  it("never removes the newest verified backup, whatever the rules say", () => {
    const unverified = all.map((e) => entry("a", e.manifest.createdAt, e === tue10));
    const plan = planRetention(unverified, { keepLast: 1 });
    assert.deepEqual(kept(plan), times(mon10, tue10));
    assert.deepEqual(plan.keep.find((k) => k.entry.manifest.createdAt === tue10.manifest.createdAt)?.reasons, [
      "newest verified",
    ]);
    // keep-last 0 would remove everything; the newest verified one still stays.
    assert.deepEqual(kept(planRetention(unverified, { keepLast: 0 })), times(tue10));
  });

  it("applies per label", () => {
    const b1 = entry("b", "2026-11-01T00:00:00.000Z");
    const plan = planRetention([...all, b1], { keepLast: 1 });
    assert.deepEqual(kept(plan), times(mon10, b1));
  });

  it("refuses no policy or a negative count", () => {
    assert.throws(() => planRetention(all, {}), UsageError);
    assert.throws(() => planRetention(all, { keepLast: -1 }), UsageError);
    assert.throws(() => planRetention(all, { keepDaily: 1.5 }), UsageError);
  });
});
