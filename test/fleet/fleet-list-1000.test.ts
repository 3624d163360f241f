import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Manifest } from "../../src/store/manifest.js";
import { runCli } from "../support/cli.js";
import { type FakeBackup, writeLocalBackups } from "../support/fleet-manifests.js";

const H = 3_600_000;
const CLUSTERS = 50;
const PER_CLUSTER = 20;

interface Row {
  label: string;
  status: string;
  problems: string[];
  backups: number;
  lastBackup: { ref: string; at: string; ageSeconds: number };
  lastVerified?: { at: string; ageSeconds: number };
  size: number;
  previousSize?: number;
}

/** What each cluster of the generated fleet is meant to be, by its index. */
function intent(i: number): "ok" | "stale" | "failing" | "old-failure" {
  if (i >= 40 && i < 45) return "stale";
  if (i >= 45 && i < 48) return "failing";
  if (i >= 48) return "old-failure";
  return "ok";
}

describe("list --fleet over 1,000 manifests of 50 hosted clusters (local store, the built CLI)", () => {
  let work: string;
  let store: string;
  const manifests = new Map<string, Manifest[]>();
  const now = Date.now();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-fleet-list-"));
    store = join(work, "store");
    const backups: FakeBackup[] = [];
    for (let c = 0; c < CLUSTERS; c++) {
      const kind = intent(c);
      const newestAge = kind === "stale" ? 30 * H : (1 + (c % 5)) * H;
      for (let k = 0; k < PER_CLUSTER; k++) {
        const createdAt = new Date(now - newestAge - k * 6 * H);
        // Sizes grow over time; the newest is compared with the one before it.
        const size = (64 << 20) + (PER_CLUSTER - k) * 4096 * (c + 1);
        const readBacks =
          k === 0 && kind === "failing"
            ? [{ at: new Date(createdAt.getTime() + 600_000), ok: false }]
            : k === 1 && kind === "old-failure"
              ? [{ at: new Date(createdAt.getTime() + 600_000), ok: false }]
              : k === 2 && c % 2 === 0
                ? [{ at: new Date(createdAt.getTime() + 600_000), ok: true }]
                : [];
        backups.push({
          namespace: `clusters-${c % 3}`,
          name: `hc-${String(c).padStart(2, "0")}`,
          createdAt,
          size,
          readBacks,
        });
      }
    }
    for (const m of await writeLocalBackups(store, backups)) {
      const list = manifests.get(m.label) ?? [];
      list.push(m);
      manifests.set(m.label, list);
    }
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("one row per cluster with its RPO, last read-back verification, size and previous size, status; exit 3 while one is failing", async () => {
    const r = await runCli(["list", "--fleet", "--from", store, "-o", "json"]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /42 of 50 clusters ok; 3 failing, 5 stale/);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.equal(rows.length, CLUSTERS);
    assert.deepEqual(
      rows.map((row) => row.label),
      [...manifests.keys()].sort(),
    );
    for (const row of rows) {
      const c = Number(row.label.slice(-2));
      const mine = manifests.get(row.label) ?? [];
      const [newest, previous] = [...mine].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
      const expected = intent(c) === "old-failure" ? "ok" : intent(c);
      assert.equal(row.status, expected, `${row.label}: ${row.problems.join("; ")}`);
      assert.equal(row.backups, PER_CLUSTER);
      assert.equal(row.lastBackup.at, newest?.createdAt);
      assert.equal(row.lastBackup.ref, join(store, row.label, newest?.backupId ?? ""));
      assert.ok(
        Math.abs(row.lastBackup.ageSeconds * 1000 - (Date.now() - Date.parse(newest?.createdAt ?? ""))) < 60_000,
      );
      assert.equal(row.size, newest?.snapshot.objectSize);
      assert.equal(row.previousSize, previous?.snapshot.objectSize);
      assert.ok(row.size > (row.previousSize ?? 0), "the generated sizes grow");
      const readBack = mine.flatMap((m) =>
        m.verifications
          .slice(1)
          .filter((v) => v.ok)
          .map((v) => v.at),
      );
      assert.equal(row.lastVerified?.at, readBack.sort().at(-1), row.label);
      if (expected === "ok") assert.deepEqual(row.problems, []);
      else assert.equal(row.problems.length, 1, row.problems.join("; "));
    }
  });

  it("the table: a row per cluster with its status, ages and size trend; --max-age moves the stale line", async () => {
    const r = await runCli(["list", "--fleet", "--from", store, "--max-age", "2d"]);
    assert.equal(r.code, 3, "still failing");
    assert.match(r.stderr, /^hcp-etcd-backup: 47 of 50 clusters ok; 3 failing\n$/);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^CLUSTER\s+STATUS\s+LAST BACKUP\s+VERIFIED\s+SIZE\s+TREND\s+BACKUPS\s+PROBLEMS$/);
    assert.equal(lines.length, 1 + CLUSTERS);
    const row = (label: string) => lines.find((l) => l.startsWith(`${label} `)) ?? "";
    assert.match(
      row("clusters-0/hc-00"),
      /^clusters-0\/hc-00\s+OK\s+1h ago\s+12h\d*m? ago\s+64\.\d MiB\s+\+0\.\d%\s+20$/,
    );
    assert.match(row("clusters-1/hc-01"), /\s+OK\s+2h ago\s+never\s+/);
    assert.match(row("clusters-1/hc-40"), /\s+OK\s+30h ago\s+/, "30h is within --max-age 2d");
    assert.match(row("clusters-0/hc-45"), /\s+FAILING\s+1h ago\s+.*newest backup failed verification at /);
  });

  it("exit 1 when the worst is stale, 0 when all are ok; --max-verify-age makes never-verified a problem", async () => {
    const only = join(work, "subset");
    const fresh: FakeBackup[] = [
      {
        namespace: "a",
        name: "x",
        createdAt: new Date(now - H),
        size: 1 << 20,
        readBacks: [{ at: new Date(now - H / 2), ok: true }],
      },
      { namespace: "a", name: "y", createdAt: new Date(now - 2 * H), size: 1 << 20 },
    ];
    await writeLocalBackups(only, fresh);
    const ok = await runCli(["list", "--fleet", "--from", only]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, "");
    const strict = await runCli(["list", "--fleet", "--from", only, "--max-verify-age", "7d", "-o", "json"]);
    assert.equal(strict.code, 1, strict.stderr);
    assert.deepEqual(
      (JSON.parse(strict.stdout) as Row[]).map((r) => [r.label, r.status]),
      [
        ["a/x", "ok"],
        ["a/y", "unverified"],
      ],
    );
    await writeLocalBackups(only, [{ namespace: "a", name: "z", createdAt: new Date(now - 26 * H), size: 1 << 20 }]);
    const stale = await runCli(["list", "--fleet", "--from", only]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^hcp-etcd-backup: 2 of 3 clusters ok; 1 stale\n$/);
    await writeFile(
      join(only, "a/z", (await import("node:fs")).readdirSync(join(only, "a/z"))[0] ?? "", "manifest.json"),
      "{",
    );
    const broken = await runCli(["list", "--fleet", "--from", only, "-o", "json"]);
    assert.equal(broken.code, 1, "an unreadable manifest keeps a probe red: its cluster would vanish otherwise");
    assert.match(broken.stderr, /warning: a\/z\/.*manifest\.json is not valid JSON/);
    assert.match(
      broken.stderr,
      /hcp-etcd-backup: 2 of 2 clusters ok; 1 backup folder\(s\) with an unreadable manifest/,
    );
    await mkdir(join(only, "no-such-prefix"));
    const empty = await runCli(["list", "--fleet", "--from", join(only, "no-such-prefix")]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no backups in .*no-such-prefix: check --from/);
    assert.deepEqual(
      (JSON.parse(broken.stdout) as Row[]).map((r) => r.label),
      ["a/x", "a/y"],
    );
  });

  it("usage errors: a bad --max-age, --fleet with --cluster, --max-age without --fleet", async () => {
    for (const [args, pattern] of [
      [["--fleet", "--max-age", "soon"], /--max-age must be a duration like 90m, 25h or 7d, got "soon"/],
      [["--fleet", "--cluster", "a/x"], /--fleet shows every cluster/],
      [["--max-age", "2h"], /--max-age and --max-verify-age go with --fleet/],
    ] as const) {
      const r = await runCli(["list", "--from", store, ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
  });
});
