// The single executable (`make dist`): built here from the sources, then run as a user on a bastion
// runs it: from an empty directory, with a bare environment (no node on the PATH, no node_modules).
// The directory is a temp dir outside the checkout, so no node_modules above it either.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctlStatus } from "../support/etcdctl.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXE = join(ROOT, "dist", "bin", "hcp-etcd-backup");
const FIXTURE = join(ROOT, "test", "fixtures", "bbolt-page-sizes", "db_16384_fl.db");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the executable in `cwd` with nothing of this process's environment but a PATH of one empty
 * directory: this machine has a node in /usr/bin, so `PATH=/usr/bin:/bin` would not prove it unused.
 */
async function exe(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const r = await run(EXE, args, { cwd, env: { PATH: join(cwd, "empty-bin"), ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  return lines[0] ?? "";
}

describe("the single executable (dist/bin/hcp-etcd-backup)", () => {
  let cwd: string;

  before(async () => {
    // Built from the current sources every time (a stale executable must not pass), as `make dist` builds it:
    // with the pinned Node, whatever node runs this test.
    await run("make", ["-s", "dist"], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    cwd = await mkdtemp(join(tmpdir(), "hcpeb-sea-"));
    await mkdir(join(cwd, "empty-bin"));
  });
  after(async () => {
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it("prints its version and carries the V8 flag that keeps streaming memory flat", async () => {
    const r = await exe(cwd, ["--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
    assert.equal(r.stderr, "");
    // The SEA config's execArgv is stored in the executable (src/cli/main.ts says why the flag matters).
    assert.ok(readFileSync(EXE).includes("--max-semi-space-size=4"));
  });

  it("rejects an unknown flag in one line, exit 2", async () => {
    const r = await exe(cwd, ["--no-such-flag"]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /^hcp-etcd-backup: unknown option '--no-such-flag'/);
  });

  it("demo says in one line that the sandbox comes with a checkout, exit 2", async () => {
    const r = await exe(cwd, ["demo"]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /not in this install; to run the demo, clone .* and run `make demo`/);
  });

  it("prints snapshot status byte-identical to etcdctl (the native CRC-32C addon loads from the executable)", async () => {
    for (const format of ["table", "json", "simple", "fields"] as const) {
      const r = await exe(cwd, ["snapshot", "status", FIXTURE, "-w", format]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "", "no warning: the addon loaded");
      assert.equal(r.stdout, await etcdctlStatus(FIXTURE, format), format);
    }
  });

  it("where TMPDIR takes no files: says so in one line and still prints etcdctl's status", async () => {
    // /proc takes no new files, even from root (a chmod'ed directory would not stop root).
    const r = await exe(cwd, ["snapshot", "status", FIXTURE, "-w", "json"], { TMPDIR: "/proc" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(oneLine(r.stderr), /^hcp-etcd-backup: warning: .*\/proc.*slower portable CRC-32C/);
    assert.equal(r.stdout, await etcdctlStatus(FIXTURE, "json"));
  });

  describe("against a real 3-member etcd with mutual TLS", () => {
    let cluster: EtcdCluster;
    before(async () => {
      cluster = await EtcdCluster.start();
      await loadCluster(cluster, { targetBytes: 2 * 1024 * 1024, valueSize: [1024, 8192] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it("backs up into a directory, and verify re-reads it on its worker thread", async () => {
      const store = join(cwd, "store");
      const args = ["--endpoints", cluster.endpoints.join(","), ...cluster.tlsFlags];
      const b = await exe(cwd, ["backup", ...args, "--name", "x", "--to", store, "-o", "json"]);
      assert.equal(b.code, 0, b.stderr);
      const out = JSON.parse(b.stdout) as { ref: string; snapshot: { statusHash: number; revision: number } };
      const status = JSON.parse(await etcdctlStatus(join(out.ref, "snapshot.db"), "json")) as {
        hash: number;
        revision: number;
      };
      assert.deepEqual([status.hash, status.revision], [out.snapshot.statusHash, out.snapshot.revision]);
      const v = await exe(cwd, ["verify", out.ref]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /verified|ok/i);
    });
  });
});
