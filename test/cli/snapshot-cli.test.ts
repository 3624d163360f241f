// The snapshot commands and the backup summary on real snapshots of a real (1-member) etcd.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI, runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctlStatus } from "../support/etcdctl.js";

/**
 * Runs the built CLI with its stdout piped into `head -1` by a shell, exactly as a user types it;
 * `code` is the CLI's own exit status (PIPESTATUS), not head's.
 */
function intoHead(args: string[]): Promise<{ code: number | null; stderr: string; head: string }> {
  return new Promise((resolve, reject) => {
    const sh = spawn("bash", ["-c", '"$0" "$@" | head -1; exit $PIPESTATUS', process.execPath, CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });
    let stderr = "";
    let head = "";
    sh.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    sh.stdout.setEncoding("utf8").on("data", (d: string) => {
      head += d;
    });
    sh.on("error", reject);
    sh.on("close", (code) => resolve({ code, stderr, head }));
  });
}

describe("snapshot commands on real snapshots (1-member etcd)", () => {
  let cluster: EtcdCluster;
  let work: string;
  let a: string;
  let b: string;
  const conn = () => ["--endpoints", cluster.endpoint(0), ...cluster.tlsFlags];

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // Small values, many keys: `snapshot keys` prints far more than a pipe holds.
    await loadCluster(cluster, { targetBytes: 1536 * 1024, valueSize: [100, 200] });
    a = join(work, "a.db");
    b = join(work, "b.db");
    const saveA = await runCli(["snapshot", "save", a, ...conn()]);
    assert.equal(saveA.code, 0, saveA.stderr);
    const client = await cluster.client(0);
    try {
      await client.put("/kubernetes.io/added-after-a", "x");
    } finally {
      client.close();
    }
    const saveB = await runCli(["snapshot", "save", b, ...conn()]);
    assert.equal(saveB.code, 0, saveB.stderr);
  });
  after(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("ends quietly when the reader of its output goes away (| head -1), in every output form", async () => {
    const all = await runCli(["snapshot", "keys", a]);
    assert.equal(all.code, 0, all.stderr);
    // Far more than a pipe buffer (64 KiB): the writer outlives the reader, so EPIPE must happen.
    assert.ok(all.stdout.length > 512 * 1024, `only ${all.stdout.length} bytes of output`);
    const first = all.stdout.split("\n")[0] ?? "";
    for (const args of [
      ["snapshot", "keys", a],
      ["snapshot", "keys", a, "-o", "json"],
      ["snapshot", "keys", a, "--prefix", "/kubernetes.io/"],
    ]) {
      const r = await intoHead(args);
      assert.equal(r.stderr, "", args.join(" "));
      assert.equal(r.code, 0, args.join(" "));
      assert.equal(r.head.split("\n").length, 2, r.head);
      if (args.length === 3) assert.equal(r.head, `${first}\n`);
      if (args.includes("json")) assert.equal(r.head, "[\n");
      if (args.includes("--prefix")) assert.match(r.head, /^\/kubernetes\.io\//);
    }
  });

  it("diff exits as diff(1) does: 0 the same, 1 different, 2 trouble", async () => {
    const same = await runCli(["snapshot", "diff", a, a]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^0 added, 0 removed, 0 changed, \d+ unchanged\n$/);
    const differ = await runCli(["snapshot", "diff", a, b]);
    assert.equal(differ.code, 1, differ.stderr);
    assert.equal(differ.stderr, "");
    assert.match(differ.stdout, /^\+ \/kubernetes\.io\/added-after-a$/m);
    assert.match(differ.stdout, /^1 added, 0 removed, 0 changed, \d+ unchanged$/m);
    const differJson = await runCli(["snapshot", "diff", a, b, "-o", "json"]);
    assert.equal(differJson.code, 1);
    assert.equal((JSON.parse(differJson.stdout) as { added: unknown[] }).added.length, 1);
    const trouble = await runCli(["snapshot", "diff", a, join(work, "missing.db")]);
    assert.equal(trouble.code, 2);
    assert.match(
      trouble.stderr,
      /^hcp-etcd-backup: cannot read snapshot file .*missing\.db: no such file or directory\n$/,
    );
  });

  it("says which key count it prints: etcdctl's TOTAL KEYS, not live keys; status stays etcdctl's", async () => {
    const oracle = JSON.parse(await etcdctlStatus(a, "json")) as { totalKey: number; revision: number };
    const live = (await runCli(["snapshot", "keys", a])).stdout.trimEnd().split("\n").length;
    assert.ok(oracle.totalKey > live, "etcd's own records make TOTAL KEYS larger than the live keys");
    const v = await runCli(["snapshot", "verify", a]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(
      v.stdout,
      new RegExp(
        `revision ${oracle.revision}, ${oracle.totalKey} stored entries \\(etcdctl's TOTAL KEYS, not live keys\\)`,
      ),
    );
    for (const format of ["simple", "table", "json", "fields"] as const) {
      const ours = await runCli(["snapshot", "status", a, "-w", format]);
      assert.equal(ours.stdout, await etcdctlStatus(a, format), format);
    }
  });

  it("backup and list name the count and show the speed in MiB/s", async () => {
    const store = join(work, "store");
    const text = await runCli(["backup", ...conn(), "--to", store, "--name", "lab"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /revision +\d+, \d+ stored entries \(etcdctl's TOTAL KEYS, not live keys\), status hash/);
    assert.match(text.stdout, /duration +[\d.]+s \([\d.]+ MiB\/s\)$/m);
    assert.doesNotMatch(text.stdout, /MB\/s/);
    const json = await runCli(["backup", ...conn(), "--to", store, "--name", "lab", "-o", "json"]);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as Record<string, unknown> & { snapshot: { totalKeys: number } };
    assert.equal(typeof out.mibPerSecond, "number");
    assert.equal("mbPerSecond" in out, false);
    assert.ok(out.snapshot.totalKeys > 0);
    const list = await runCli(["list", "--from", store]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^REF +LABEL +CREATED +REVISION +TOTAL KEYS +SIZE +VERIFIED$/m);
  });
});
