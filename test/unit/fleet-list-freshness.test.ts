import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CatalogBackup,
  clusterFreshness,
  fleetExitCode,
  fleetFreshness,
  formatAge,
  sizeTrend,
} from "../../src/fleet/freshness.js";
import { type FakeBackup, hostedManifest } from "../support/fleet-manifests.js";

const NOW = new Date("2026-11-30T12:00:00Z");
const H = 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const policy = { now: NOW, maxAgeMs: 25 * H };

function backups(list: Array<Partial<FakeBackup> & { createdAt: Date }>): CatalogBackup[] {
  return list.map((b, i) => ({
    ref: `/store/clusters/a/${i}`,
    manifest: hostedManifest({ namespace: "clusters", name: "a", size: 8 << 20, ...b }),
  }));
}

describe("fleet freshness (list --fleet)", () => {
  it("ok: a fresh newest backup; its age, the newest read-back verification of any backup, size against the previous one", () => {
    const row = clusterFreshness(
      "clusters/a",
      backups([
        { createdAt: ago(30 * H), size: 1000, readBacks: [{ at: ago(29 * H), ok: true }] },
        { createdAt: ago(2 * H), size: 1100 },
        { createdAt: ago(26 * H), size: 900, readBacks: [{ at: ago(20 * H), ok: true }] },
      ]),
      policy,
    );
    assert.equal(row.status, "ok");
    assert.deepEqual(row.problems, []);
    assert.equal(row.backups, 3);
    assert.equal(row.lastBackup.ageSeconds, 2 * 3600);
    assert.equal(row.lastBackup.ref, "/store/clusters/a/1");
    assert.equal(row.lastVerified?.ageSeconds, 20 * 3600, "the newest successful read-back, whichever backup");
    assert.equal(row.size, 1100);
    assert.equal(
      row.previousSize,
      900,
      "the previous backup is the one before the newest in time, not in listing order",
    );
  });

  it("the check made while streaming is not a read-back verification", () => {
    const row = clusterFreshness("clusters/a", backups([{ createdAt: ago(H) }]), policy);
    assert.equal(row.lastVerified, undefined);
    assert.equal(row.status, "ok", "without --max-verify-age, never read back is shown but is not a problem");
  });

  it("stale: the newest backup older than the limit; the limit is exclusive of equality", () => {
    assert.equal(clusterFreshness("x", backups([{ createdAt: ago(25 * H) }]), policy).status, "ok");
    assert.equal(clusterFreshness("x", backups([{ createdAt: ago(25 * H + 1000) }]), policy).status, "stale");
    const row = clusterFreshness("x", backups([{ createdAt: ago(26.5 * H) }, { createdAt: ago(49 * H) }]), policy);
    assert.equal(row.status, "stale");
    assert.deepEqual(row.problems, ["newest backup is 26h30m old (limit 25h)"]);
  });

  it("failing: the newest backup's newest verification failed, even when fresh; an older backup's failure does not count", () => {
    const failing = clusterFreshness(
      "x",
      backups([{ createdAt: ago(H), readBacks: [{ at: ago(H / 2), ok: false }] }, { createdAt: ago(5 * H) }]),
      policy,
    );
    assert.equal(failing.status, "failing");
    assert.match(
      failing.problems[0] ?? "",
      /^newest backup failed verification at .*: sha256 of the stored object differs/,
    );
    const olderBad = clusterFreshness(
      "x",
      backups([{ createdAt: ago(H) }, { createdAt: ago(5 * H), readBacks: [{ at: ago(4 * H), ok: false }] }]),
      policy,
    );
    assert.equal(olderBad.status, "ok");
    const recovered = clusterFreshness(
      "x",
      backups([
        {
          createdAt: ago(H),
          readBacks: [
            { at: ago(0.9 * H), ok: false },
            { at: ago(0.5 * H), ok: true },
          ],
        },
      ]),
      policy,
    );
    assert.equal(recovered.status, "ok", "a later successful verification is what counts");
  });

  it("failing outranks stale; both problems are listed", () => {
    const row = clusterFreshness(
      "x",
      backups([{ createdAt: ago(30 * H), readBacks: [{ at: ago(29 * H), ok: false }] }]),
      policy,
    );
    assert.equal(row.status, "failing");
    assert.equal(row.problems.length, 2);
  });

  it("unverified only with a verification age limit: never, or too long ago", () => {
    const strict = { ...policy, maxVerifyAgeMs: 7 * 24 * H };
    const never = clusterFreshness("x", backups([{ createdAt: ago(H) }]), strict);
    assert.equal(never.status, "unverified");
    assert.deepEqual(never.problems, ["never read back and verified (limit 7d)"]);
    const old = clusterFreshness(
      "x",
      backups([{ createdAt: ago(H) }, { createdAt: ago(9 * 24 * H), readBacks: [{ at: ago(8 * 24 * H), ok: true }] }]),
      strict,
    );
    assert.equal(old.status, "unverified");
    const recent = clusterFreshness(
      "x",
      backups([{ createdAt: ago(H) }, { createdAt: ago(3 * 24 * H), readBacks: [{ at: ago(2 * 24 * H), ok: true }] }]),
      strict,
    );
    assert.equal(recent.status, "ok");
    const staleToo = clusterFreshness("x", backups([{ createdAt: ago(30 * H) }]), strict);
    assert.equal(staleToo.status, "stale", "stale outranks unverified");
  });

  it("one row per label, sorted; the exit status a cron check wants", () => {
    const rows = fleetFreshness(
      [
        { ref: "b1", manifest: hostedManifest({ namespace: "ns", name: "b", createdAt: ago(30 * H), size: 10 << 20 }) },
        { ref: "a1", manifest: hostedManifest({ namespace: "ns", name: "a", createdAt: ago(H), size: 10 << 20 }) },
        { ref: "a2", manifest: hostedManifest({ namespace: "ns", name: "a", createdAt: ago(2 * H), size: 10 << 20 }) },
      ],
      policy,
    );
    assert.deepEqual(
      rows.map((r) => [r.label, r.status, r.backups]),
      [
        ["ns/a", "ok", 2],
        ["ns/b", "stale", 1],
      ],
    );
    assert.equal(fleetExitCode(rows), 1);
    assert.equal(fleetExitCode(rows.slice(0, 1)), 0);
    assert.equal(fleetExitCode([]), 0);
    const failing = clusterFreshness(
      "x",
      backups([{ createdAt: ago(H), readBacks: [{ at: ago(H / 2), ok: false }] }]),
      policy,
    );
    assert.equal(fleetExitCode([...rows, failing]), 3, "a failing verification outranks staleness");
  });

  it("continuous: the RPO is the newest committed segment's age, and staleness is judged on it", () => {
    const [base] = backups([{ createdAt: ago(30 * H) }]);
    if (!base) throw new Error("no backup");
    const chain = { toRevision: 90_000, toTime: ago(40_000).toISOString(), segments: 12, problems: [] };
    const row = clusterFreshness("clusters/a", [{ ...base, chain }], policy);
    assert.equal(row.status, "ok", "a day-old base with a fresh chain is not stale");
    assert.deepEqual(row.rpo, { at: chain.toTime, revision: 90_000, from: "segment", ageSeconds: 40 });
    assert.equal(row.lastBackup.ageSeconds, 30 * 3600);
    const stale = clusterFreshness("clusters/a", [{ ...base, chain }], { ...policy, maxAgeMs: 30_000 });
    assert.deepEqual(stale.problems, ["newest committed segment is 40s old (limit 30s)"]);
    const plain = clusterFreshness("clusters/a", [base], policy);
    assert.deepEqual(plain.rpo, {
      at: base.manifest.createdAt,
      revision: base.manifest.snapshot.revision,
      from: "backup",
      ageSeconds: 30 * 3600,
    });
    const empty = clusterFreshness("clusters/a", [{ ...base, chain: { ...chain, segments: 0 } }], policy);
    assert.equal(empty.rpo.from, "backup", "a chain with no committed segment yet is its base");
    // Idle since the full backup: the base's coverage is the RPO, unless the chain has a problem.
    const idle = {
      toRevision: base.manifest.snapshot.revision,
      segments: 0,
      problems: [],
      toTime: ago(20_000).toISOString(),
    };
    const covered = clusterFreshness("clusters/a", [{ ...base, chain: { ...idle, baseCoveredAt: idle.toTime } }], {
      ...policy,
      maxAgeMs: 30_000,
    });
    assert.equal(covered.status, "ok", covered.problems.join("; "));
    assert.deepEqual(covered.rpo, {
      at: idle.toTime,
      revision: base.manifest.snapshot.revision,
      from: "coverage",
      ageSeconds: 20,
    });
    const lateCoverage = clusterFreshness("clusters/a", [{ ...base, chain: { ...idle, baseCoveredAt: idle.toTime } }], {
      ...policy,
      maxAgeMs: 10_000,
    });
    assert.deepEqual(lateCoverage.problems, ["newest idle coverage of the newest backup is 20s old (limit 10s)"]);
    const problem = clusterFreshness(
      "clusters/a",
      [{ ...base, chain: { ...idle, baseCoveredAt: idle.toTime, problems: ["a record is unreadable"] } }],
      policy,
    );
    assert.equal(problem.rpo.from, "backup", "no coverage past a problem");
    assert.equal(problem.status, "failing");
  });

  it("continuous: a gap in the newest chain is failing; one in an older chain is not the RPO's business", () => {
    const [older, newest] = backups([{ createdAt: ago(3 * H) }, { createdAt: ago(H) }]);
    if (!older || !newest) throw new Error("no backups");
    const gap = {
      toRevision: 10,
      toTime: ago(H).toISOString(),
      segments: 0,
      problems: ["revisions 11..20 are missing"],
    };
    const row = clusterFreshness("clusters/a", [older, { ...newest, chain: gap }], policy);
    assert.equal(row.status, "failing");
    assert.deepEqual(row.problems, ["the newest backup's chain stops at revision 10: revisions 11..20 are missing"]);
    assert.equal(fleetExitCode([row]), 3);
    assert.equal(clusterFreshness("clusters/a", [{ ...older, chain: gap }, newest], policy).status, "ok");
  });

  it("formats ages and trends for the table", () => {
    assert.deepEqual([0, 59, 60, 3599, 3600, 3660, 47 * 3600 + 59 * 60, 48 * 3600, 50 * 3600].map(formatAge), [
      "0s",
      "59s",
      "1m",
      "59m",
      "1h",
      "1h1m",
      "47h59m",
      "2d",
      "2d2h",
    ]);
    assert.deepEqual(
      [sizeTrend(110, 100), sizeTrend(99, 100), sizeTrend(100, 100), sizeTrend(5, undefined)],
      ["+10.0%", "-1.0%", "±0%", "new"],
    );
  });
});
