// restore local and verify --restore-drill refusing bad input: one line on stderr, the right exit
// status, and nothing created. No daemon: every refusal comes before etcd or a store is touched.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";

const FIXTURE = new URL("../fixtures/bbolt-page-sizes/db_4096_fl.db", import.meta.url).pathname;

function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(stderr, /unexpected error|please report|\n\s+at /);
}

describe("restore local: bad input (built CLI)", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });
  const dataDir = () => join(work, "data");
  const nothingMade = () => assert.deepEqual(readdirSync(work), []);

  it("a missing snapshot file", async () => {
    const missing = join(work, "no-such.db");
    const r = await runCli(["restore", "local", missing, "--data-dir", dataDir()]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, new RegExp(`^hcp-etcd-backup: cannot read snapshot file ${missing}: no such file or directory$`));
    nothingMade();
  });

  it("a folder that is not a backup", async () => {
    const folder = join(work, "folder");
    await mkdir(folder);
    const r = await runCli(["restore", "local", folder, "--data-dir", dataDir()]);
    assert.equal(r.code, 1);
    oneLine(
      r.stderr,
      /^hcp-etcd-backup: cannot read snapshot file .*folder: is a directory without a backup manifest$/,
    );
    await rm(folder, { recursive: true });
  });

  it("an existing non-empty data directory", async () => {
    const dir = join(work, "occupied");
    await mkdir(dir);
    await writeFile(join(dir, "x"), "x");
    const r = await runCli(["restore", "local", FIXTURE, "--data-dir", dir]);
    assert.equal(r.code, 2);
    oneLine(
      r.stderr,
      /^hcp-etcd-backup: data directory .*occupied is not empty: restore never writes over existing data/,
    );
    assert.deepEqual(readdirSync(work), ["occupied"]);
    await rm(dir, { recursive: true });
  });

  it("a data directory that is a file", async () => {
    const file = join(work, "plain");
    await writeFile(file, "x");
    const r = await runCli(["restore", "local", FIXTURE, "--data-dir", file]);
    assert.equal(r.code, 2);
    oneLine(r.stderr, /^hcp-etcd-backup: data directory .*plain exists and is not a directory$/);
    await rm(file);
  });

  for (const [initialCluster, why] of [
    ["etcd-0", /"etcd-0" is not name=URL/],
    ["etcd-0=not a url", /"not a url" is not a URL/],
    ["etcd-0=ftp://h:1", /is not http\(s\)/],
    ["etcd-0=https://h", /must be scheme:\/\/host:port only/],
    ["etcd-0=https://a:2380,etcd-1=https://a:2380", /peer URL https:\/\/a:2380 appears twice/],
    ["etc d=https://a:2380", /member name "etc d"/],
  ] as const) {
    it(`a bad --initial-cluster: ${initialCluster}`, async () => {
      const r = await runCli([
        "restore",
        "local",
        FIXTURE,
        "--data-dir",
        dataDir(),
        "--name",
        "etcd-0",
        "--initial-cluster",
        initialCluster,
      ]);
      assert.equal(r.code, 2);
      oneLine(
        r.stderr,
        /^hcp-etcd-backup: invalid --initial-cluster ".*": .* \(expected name=https:\/\/host:port,\.\.\.\)$/,
      );
      assert.match(r.stderr, why);
      nothingMade();
    });
  }

  it("--name not in --initial-cluster", async () => {
    const r = await runCli([
      "restore",
      "local",
      FIXTURE,
      "--data-dir",
      dataDir(),
      "--name",
      "etcd-9",
      "--initial-cluster",
      "etcd-0=https://a:2380,etcd-1=https://b:2380",
    ]);
    assert.equal(r.code, 2);
    oneLine(r.stderr, /^hcp-etcd-backup: --name etcd-9 is not in --initial-cluster \(it names etcd-0, etcd-1\)$/);
    nothingMade();
  });

  it("both --members and --name, and either half of --name/--initial-cluster alone", async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["--members", "3", "--name", "etcd-0", "--initial-cluster", "etcd-0=https://a:2380"],
        /^hcp-etcd-backup: --members and --name\/--initial-cluster cannot be combined/,
      ],
      [["--name", "etcd-0"], /^hcp-etcd-backup: --name needs --initial-cluster/],
      [["--initial-cluster", "etcd-0=https://a:2380"], /^hcp-etcd-backup: --initial-cluster needs --name/],
      [["--members", "0"], /^hcp-etcd-backup: --members must be a whole number from 1 to 9, got "0"$/],
      [["--members", "three"], /^hcp-etcd-backup: --members must be a whole number from 1 to 9, got "three"$/],
    ];
    for (const [flags, pattern] of cases) {
      const r = await runCli(["restore", "local", FIXTURE, "--data-dir", dataDir(), ...flags]);
      assert.equal(r.code, 2, flags.join(" "));
      oneLine(r.stderr, pattern);
    }
    nothingMade();
  });

  it("no --data-dir", async () => {
    const r = await runCli(["restore", "local", FIXTURE]);
    assert.equal(r.code, 2);
    oneLine(r.stderr, /required option '--data-dir <dir>' not specified/);
  });

  it("verify --restore-drill with --no-structure", async () => {
    const r = await runCli(["verify", work, "--restore-drill", "--no-structure"]);
    assert.equal(r.code, 2);
    oneLine(r.stderr, /^hcp-etcd-backup: --no-structure cannot go with --restore-drill/);
  });
});
