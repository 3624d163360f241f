import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StoreError } from "../../src/errors.js";
import { LocalStore } from "../../src/store/local-store.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";

const oneLine = (stderr: string) => assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);

async function* failingBody(): AsyncGenerator<Buffer> {
  yield Buffer.alloc(100_000, 1);
  throw new Error("etcd member died mid-stream");
}

describe("LocalStore on a real filesystem, as users meet it through the CLI", () => {
  let cluster: EtcdCluster;
  let work: string;
  let etcd: string[];

  before(async () => {
    cluster = await EtcdCluster.start({ members: 1 });
    await loadCluster(cluster, { targetBytes: 512 * 1024, valueSize: [4096, 16384] });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    etcd = ["--endpoints", cluster.endpoint(0), ...cluster.tlsFlags];
  });
  after(async () => {
    await cluster?.stop();
    if (work) {
      execFileSync("sh", [
        "-c",
        `umount ${join(work, "ro")} 2>/dev/null || true; umount ${join(work, "tiny")} 2>/dev/null || true`,
      ]);
      await rm(work, { recursive: true, force: true });
    }
  });

  it("a failed put removes every folder it created, up to the store root, and none that existed", async () => {
    const root = join(work, "failed-put");
    const fresh = new LocalStore(root);
    await assert.rejects(fresh.put("lab/20261130T000000Z-r1/snapshot.db", failingBody()), /died mid-stream/);
    assert.equal(existsSync(root), false, "the root this put created is gone too");
    await mkdir(join(root, "lab"), { recursive: true });
    await assert.rejects(fresh.put("lab/20261130T000001Z-r1/snapshot.db", failingBody()), /died mid-stream/);
    assert.deepEqual(readdirSync(join(root, "lab")), [], "the existing label folder stays, the new id folder is gone");
  });

  it("a .part that exists already is another writer's: refused with one line, left untouched", async () => {
    const root = join(work, "exclusive");
    await mkdir(join(root, "lab/1"), { recursive: true });
    await writeFile(join(root, "lab/1/snapshot.db.part"), "someone else's bytes");
    const store = new LocalStore(root);
    await assert.rejects(store.put("lab/1/snapshot.db", Buffer.from("mine")), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.match(err.message, /snapshot\.db\.part already exists: another backup is writing lab\/1\/snapshot\.db/);
      return true;
    });
    assert.equal(await readFile(join(root, "lab/1/snapshot.db.part"), "utf8"), "someone else's bytes");
    assert.equal(existsSync(join(root, "lab/1/snapshot.db")), false);
  });

  it("a rewrite in place (replace) goes around a .part left by a killed rewrite, and leaves no temp file", async () => {
    const root = join(work, "replace");
    const store = new LocalStore(root);
    await store.put("lab/1/deltas/r.json", Buffer.from("first"));
    await writeFile(join(root, "lab/1/deltas/r.json.part"), "half of a rewrite killed midway");
    await store.put("lab/1/deltas/r.json", Buffer.from("second"), { replace: true });
    assert.equal(await readFile(join(root, "lab/1/deltas/r.json"), "utf8"), "second");
    assert.deepEqual(readdirSync(join(root, "lab/1/deltas")).sort(), ["r.json", "r.json.part"]);
  });

  it("a full disk fails the put in one line, and the folders it made are removed", async () => {
    const tiny = join(work, "tiny");
    await mkdir(tiny);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny]);
    try {
      const store = new LocalStore(join(tiny, "store"));
      const big = (async function* () {
        for (let i = 0; i < 8; i++) yield Buffer.alloc(1024 * 1024, i);
      })();
      await assert.rejects(
        store.put("lab/1/snapshot.db", big),
        /^StoreError: no space left on the device while writing .*snapshot\.db; nothing was kept$/,
      );
      assert.deepEqual(readdirSync(tiny), []);
    } finally {
      execFileSync("umount", [tiny]);
    }
  });

  it("a backup that fails (etcd unreachable) leaves no store directory behind", async () => {
    const store = join(work, "new-store");
    const r = await runCli([
      "backup",
      "--endpoints",
      "https://127.0.0.1:1",
      ...cluster.tlsFlags,
      "--to",
      store,
      "--name",
      "x",
    ]);
    assert.equal(r.code, 1, r.stderr);
    oneLine(r.stderr);
    assert.equal(existsSync(store), false, "check() created nothing");
  });

  it("a store path that cannot be created (under /proc) fails within seconds, naming the path", async () => {
    const t0 = Date.now();
    const r = await runCli(["backup", ...etcd, "--to", "/proc/nc", "--name", "x"], { timeoutMs: 30_000 });
    assert.equal(r.signal, null, "did not hang until killed");
    assert.ok(Date.now() - t0 < 20_000);
    assert.equal(r.code, 1, r.stderr);
    oneLine(r.stderr);
    assert.match(r.stderr, /cannot create \/proc\/nc: the file system does not allow it/);
  });

  it("names the real cause: EROFS on a read-only file system, ENOTDIR when a file is in the path", async () => {
    const ro = join(work, "ro");
    await mkdir(ro);
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]);
    try {
      const r = await runCli(["backup", ...etcd, "--to", join(ro, "store"), "--name", "x"]);
      assert.equal(r.code, 1, r.stderr);
      oneLine(r.stderr);
      assert.match(r.stderr, /ro\/store.*read-only file system \(EROFS\)/);
      assert.doesNotMatch(r.stderr, /ENOENT/);
    } finally {
      execFileSync("umount", [ro]);
    }
    await writeFile(join(work, "a-file"), "x");
    const r = await runCli(["backup", ...etcd, "--to", join(work, "a-file", "store"), "--name", "x"]);
    assert.equal(r.code, 1, r.stderr);
    oneLine(r.stderr);
    assert.match(r.stderr, /a-file\/store: a part of the path is a file, not a directory \(ENOTDIR\)/);
  });

  it("list, verify and prune of a store that does not exist fail, saying so", async () => {
    const missing = join(work, "no-such-store");
    for (const args of [
      ["list", "--from", missing],
      ["verify", missing],
      ["prune", "--from", missing, "--keep-last", "1"],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
      oneLine(r.stderr);
      assert.match(r.stderr, new RegExp(`no store at ${missing}: the directory does not exist`));
    }
    assert.equal(existsSync(missing), false);
  });

  it("refs have one form, the plain path, in backup, list and verify; a file:// URL is still accepted", async () => {
    const store = join(work, "refs");
    const b = await runCli(["backup", ...etcd, "--to", `file://${store}`, "--name", "lab", "-o", "json"]);
    assert.equal(b.code, 0, b.stderr);
    const ref = (JSON.parse(b.stdout) as { ref: string }).ref;
    assert.ok(ref.startsWith(`${store}/lab/`), ref);
    const listed = JSON.parse((await runCli(["list", "--from", store, "-o", "json"])).stdout) as Array<{ ref: string }>;
    assert.deepEqual(
      listed.map((x) => x.ref),
      [ref],
    );
    for (const given of [ref, `file://${ref}`]) {
      const v = await runCli(["verify", given]);
      assert.equal(v.code, 0, v.stderr);
      assert.ok(v.stdout.startsWith(`${ref}: OK`), v.stdout);
      assert.doesNotMatch(v.stdout, /file:/);
    }
  });
});
