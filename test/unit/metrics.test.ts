import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BackupMetrics } from "../../src/metrics/backup-metrics.js";
import { groupingKey, MetricsReporter } from "../../src/metrics/publish.js";
import { parseTextfile, writeTextfile } from "../../src/metrics/textfile.js";
import type { Manifest } from "../../src/store/manifest.js";

/** The manifest facts metrics read; the rest of a manifest does not matter here. */
function manifest(over: { createdAt: string; downtime?: number; ok?: boolean }): Manifest {
  return {
    createdAt: over.createdAt,
    timings: { totalSeconds: 12.5 },
    snapshot: { objectSize: 41943072, revision: 12001 },
    writerDowntime: over.downtime === undefined ? undefined : { seconds: over.downtime },
    verifications: [{ at: over.createdAt, ok: over.ok ?? true, checks: [], toolVersion: "0" }],
  } as unknown as Manifest;
}

const hosted = { cluster: "clusters/example", store: "s3://backups/hcp" };
const plain = { cluster: "prod-etcd", store: "/var/backups" };

/** `name{labels} value` lines of an exposition, without HELP/TYPE. */
const samples = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

describe("metrics registry content", () => {
  it("a success sets every per-backup series, with units in the names and both labels", async () => {
    const m = new BackupMetrics();
    m.backupSucceeded(hosted, manifest({ createdAt: "2026-11-30T10:00:00.000Z", downtime: 4.25 }));
    const text = await m.registry().metrics();
    const t = Date.parse("2026-11-30T10:00:00.000Z") / 1000;
    const l = 'cluster="clusters/example",store="s3://backups/hcp"';
    assert.deepEqual(samples(text), [
      `hcp_etcd_backup_last_success_timestamp_seconds{${l}} ${t}`,
      `hcp_etcd_backup_duration_seconds{${l}} 12.5`,
      `hcp_etcd_backup_size_bytes{${l}} 41943072`,
      `hcp_etcd_backup_revision{${l}} 12001`,
      `hcp_etcd_backup_writer_downtime_seconds{${l}} 4.25`,
      `hcp_etcd_backup_verification_success{${l}} 1`,
      `hcp_etcd_backup_last_verification_timestamp_seconds{${l}} ${t}`,
    ]);
    assert.match(text, /# TYPE hcp_etcd_backup_size_bytes gauge/);
    assert.doesNotMatch(text, /last_failure/, "a success says nothing about failures");
  });

  it("many clusters in one run: each result under its own labels; a failure sets the failure time only", async () => {
    const m = new BackupMetrics();
    m.backupSucceeded(hosted, manifest({ createdAt: "2026-11-30T10:00:00.000Z" }));
    m.backupFailed(plain, new Date("2026-11-30T11:00:00.000Z"));
    const all = samples(await m.registry().metrics());
    assert.ok(
      all.includes('hcp_etcd_backup_writer_downtime_seconds{cluster="clusters/example",store="s3://backups/hcp"} 0'),
    );
    assert.deepEqual(
      all.filter((l) => l.includes("prod-etcd")),
      [
        `hcp_etcd_backup_last_failure_timestamp_seconds{cluster="prod-etcd",store="/var/backups"} ${Date.parse("2026-11-30T11:00:00.000Z") / 1000}`,
      ],
    );
    const onlyPlain = samples(await m.registry([plain]).metrics());
    assert.equal(onlyPlain.length, 1, "a per-cluster registry holds that cluster's series only");
  });

  it("verify records its result and time; a failed one is 0", async () => {
    const m = new BackupMetrics();
    m.verified(plain, { at: "2026-11-30T12:00:00.000Z", ok: false, checks: [], toolVersion: "0" });
    assert.deepEqual(samples(await m.registry().metrics()), [
      'hcp_etcd_backup_verification_success{cluster="prod-etcd",store="/var/backups"} 0',
      `hcp_etcd_backup_last_verification_timestamp_seconds{cluster="prod-etcd",store="/var/backups"} ${Date.parse("2026-11-30T12:00:00.000Z") / 1000}`,
    ]);
  });

  it("Pushgateway grouping labels are base64url (a cluster label holds '/')", () => {
    assert.deepEqual(groupingKey(hosted), {
      "cluster@base64": Buffer.from("clusters/example").toString("base64url"),
      "store@base64": Buffer.from("s3://backups/hcp").toString("base64url"),
    });
    assert.equal(groupingKey({ cluster: "", store: "x" })["cluster@base64"], "=", "an empty value is '='");
  });

  it("the reporter records success or failure and passes the result or error through", async () => {
    const r = new MetricsReporter({}, () => {});
    const ok = await Promise.resolve({ manifest: manifest({ createdAt: "2026-11-30T10:00:00.000Z" }) }).then(
      r.succeeded(hosted, (x) => x.manifest),
      r.failed(hosted),
    );
    assert.equal(ok.manifest.snapshot.revision, 12001);
    const boom = new Error("etcd unreachable");
    await assert.rejects(
      Promise.reject(boom).then(
        r.succeeded(plain, () => undefined),
        r.failed(plain),
      ),
      (e) => e === boom,
    );
    const text = await r.metrics.registry().metrics();
    assert.match(text, /last_success_timestamp_seconds\{cluster="clusters\/example"/);
    assert.match(text, /last_failure_timestamp_seconds\{cluster="prod-etcd"/);
  });
});

describe("continuous backup series", () => {
  const record = (to: number, closedAt: string) =>
    ({
      schemaVersion: 1,
      baseBackupId: "b",
      baseRevision: 100,
      fromRevision: 101,
      toRevision: to,
      events: 3,
      bytes: 64,
      sha256: "0".repeat(64),
      openedAt: "2026-11-30T10:00:00.000Z",
      firstEventAt: "2026-11-30T10:00:01.500Z",
      lastEventAt: "2026-11-30T10:00:09.000Z",
      closedAt,
    }) as const;

  it("a committed segment sets the last revision, its close time and the lag of its oldest change", async () => {
    const m = new BackupMetrics();
    m.segmentCommitted(plain, record(180, "2026-11-30T10:00:12.250Z"));
    const l = 'cluster="prod-etcd",store="/var/backups"';
    assert.deepEqual(samples(await m.registry().metrics()), [
      `hcp_etcd_backup_continuous_last_revision{${l}} 180`,
      `hcp_etcd_backup_continuous_last_commit_timestamp_seconds{${l}} ${Date.parse("2026-11-30T10:00:12.250Z") / 1000}`,
      `hcp_etcd_backup_continuous_segment_lag_seconds{${l}} 10.75`,
    ]);
    const back = parseTextfile(await m.registry().metrics());
    assert.deepEqual(samples(await back.registry().metrics()), samples(await m.registry().metrics()));
  });

  it("the base's idle coverage (no segment yet) sets the last revision and the coverage time, not the lag", async () => {
    const m = new BackupMetrics();
    m.baseCovered(plain, { baseRevision: 100, coveredAt: "2026-11-30T10:05:00.000Z" });
    const l = 'cluster="prod-etcd",store="/var/backups"';
    assert.deepEqual(samples(await m.registry().metrics()), [
      `hcp_etcd_backup_continuous_last_revision{${l}} 100`,
      `hcp_etcd_backup_continuous_last_commit_timestamp_seconds{${l}} ${Date.parse("2026-11-30T10:05:00.000Z") / 1000}`,
    ]);
  });

  it("publishSoon: one publish at a time, and a burst ends with the newest values published", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-metrics-unit-"));
    try {
      const file = join(dir, "continuous.prom");
      const r = new MetricsReporter({ file }, (line) => assert.fail(line));
      const real = r.publish.bind(r);
      let running = 0;
      let peak = 0;
      let calls = 0;
      r.publish = async () => {
        running++;
        calls++;
        peak = Math.max(peak, running);
        try {
          await real();
        } finally {
          running--;
        }
      };
      const pending: Promise<void>[] = [];
      for (let to = 101; to <= 110; to++) {
        r.segmentCommitted(plain, record(to, "2026-11-30T10:00:12.000Z"));
        pending.push(r.publishSoon());
      }
      await Promise.all(pending);
      assert.equal(peak, 1, "never two publishes at once");
      assert.equal(calls, 2, "the first, then one more for everything that came while it ran");
      assert.match(await readFile(file, "utf8"), /hcp_etcd_backup_continuous_last_revision\{[^}]*\} 110\n/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("node-exporter textfile", () => {
  it("a failed run keeps the previous success beside its failure, and label values round-trip", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-metrics-unit-"));
    try {
      const file = join(dir, "backup.prom");
      const odd = { cluster: 'we"ird\\name', store: "/var/back ups" };
      const first = new BackupMetrics();
      first.backupSucceeded(hosted, manifest({ createdAt: "2026-11-30T10:00:00.000Z" }));
      first.backupSucceeded(odd, manifest({ createdAt: "2026-11-30T10:00:00.000Z" }));
      await writeTextfile(file, first);
      const second = new BackupMetrics();
      second.backupFailed(hosted, new Date("2026-11-30T11:00:00.000Z"));
      await writeTextfile(file, second);
      const text = await readFile(file, "utf8");
      const t = (iso: string) => Date.parse(iso) / 1000;
      assert.ok(
        samples(text).includes(
          `hcp_etcd_backup_last_success_timestamp_seconds{cluster="clusters/example",store="s3://backups/hcp"} ${t("2026-11-30T10:00:00.000Z")}`,
        ),
      );
      assert.ok(
        samples(text).includes(
          `hcp_etcd_backup_last_failure_timestamp_seconds{cluster="clusters/example",store="s3://backups/hcp"} ${t("2026-11-30T11:00:00.000Z")}`,
        ),
      );
      assert.deepEqual(
        parseTextfile(text)
          .targets()
          .map((x) => x.cluster)
          .sort(),
        ["clusters/example", odd.cluster].sort(),
      );
      assert.equal((await stat(file)).mode & 0o777, 0o644);
      assert.deepEqual(await readdir(dir), ["backup.prom"], "no temp file left beside it");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lines that are not ours are dropped, not trusted", () => {
    const m = parseTextfile(
      [
        "# HELP other something",
        'other_metric{cluster="a",store="b"} 1',
        'hcp_etcd_backup_size_bytes{cluster="a"} 5',
        'hcp_etcd_backup_size_bytes{cluster="a",store="b"} NaNx',
        'hcp_etcd_backup_size_bytes{cluster="a",store="b"} 7',
      ].join("\n"),
    );
    assert.deepEqual(m.targets(), [{ cluster: "a", store: "b" }]);
  });

  it("a publish that fails warns once per destination and never throws", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-metrics-unit-"));
    try {
      // A directory where the file should be: the rename fails.
      const file = join(dir, "taken.prom");
      await mkdir(file);
      const warnings: string[] = [];
      const r = new MetricsReporter({ file }, (line) => warnings.push(line));
      r.metrics.backupFailed(plain);
      await r.publish();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] as string, /^metrics not written to .*taken\.prom: .*; the backup's own result stands$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
