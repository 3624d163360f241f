import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { compareKeyStreams, liveKeyStates } from "../../src/restore/compare-live.js";
import { sortLiveKeys } from "../../src/restore/sorted-live-keys.js";
import { liveKeys, sortedKeys } from "../../src/snapshot/keys.js";
import type { Manifest } from "../../src/store/manifest.js";
import { openStore } from "../../src/store/open-store.js";
import { runCli, spawnCli } from "../support/cli.js";
import { EtcdCluster, loadKubernetesData } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { flipByte } from "../support/files.js";
import { S3Server } from "../support/s3-server.js";
import { backupToLocalStore, fillSource } from "./helpers.js";

interface DrillOutput {
  ok: boolean;
  problems: string[];
  comparison?: { snapshotKeys: number; liveKeys: number; equal: boolean };
  phases: Record<string, number>;
  verification: { checks: string[]; ok: boolean; seconds: number; detail: string };
}

/** Pids of live processes whose command line names `path`. */
function processesMentioning(path: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(path)) pids.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function manifestAt(ref: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(ref, "manifest.json"), "utf8")) as Manifest;
}

describe("verify --restore-drill (real etcd 3.4, local store and Ceph RGW)", () => {
  let source: EtcdCluster;
  let s3: S3Server;
  let work: string;
  let scratch: string;
  let ref: string;
  let revision: number;

  before(async () => {
    [source, s3] = await Promise.all([EtcdCluster.start({ members: 1 }), S3Server.start()]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    scratch = join(work, "scratch");
    await mkdir(scratch);
    const client = await source.client(0);
    try {
      revision = await fillSource(client);
    } finally {
      client.close();
    }
    ref = await backupToLocalStore(source, join(work, "store"));
  });
  after(async () => {
    await Promise.all([source?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("passes on a good backup, records it with its time in the manifest, and leaves nothing running or on disk", async () => {
    const before = (await manifestAt(ref)).verifications.length;
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as DrillOutput;
    assert.equal(out.ok, true);
    const expectedKeys = liveKeys(join(ref, "snapshot.db")).size;
    assert.equal(out.comparison?.equal, true);
    assert.equal(out.comparison?.snapshotKeys, expectedKeys);
    assert.equal(out.comparison?.liveKeys, expectedKeys);
    assert.deepEqual(Object.keys(out.phases), ["verify", "restore", "start", "compare"]);
    const m = await manifestAt(ref);
    assert.equal(m.verifications.length, before + 1);
    const v = m.verifications.at(-1);
    assert.equal(v?.ok, true);
    for (const c of ["sha256-trailer", "structure", "restore", "etcd-start", "live-keys"])
      assert.ok(v?.checks.includes(c), c);
    assert.ok((v?.seconds ?? 0) > 0);
    assert.match(v?.detail ?? "", new RegExp(`served ${expectedKeys} live keys at revision ${revision}`));
    assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");

    const text = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /restore drill OK in [\d.]+ s \(verify [\d.]+ s, restore [\d.]+ s, start [\d.]+ s, compare [\d.]+ s\)/,
    );
  });

  it("a --scratch-dir that does not exist is the user's mistake: one line, exit 2, nothing recorded", async () => {
    const before = readFileSync(join(ref, "manifest.json"), "utf8");
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", join(work, "no-such-dir")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^hcp-etcd-backup: --scratch-dir .*no-such-dir does not exist\n$/);
    assert.equal(readFileSync(join(ref, "manifest.json"), "utf8"), before);
  });

  it("fails on a tampered backup (exit 3, one line) and records the failure in the manifest", async () => {
    const tampered = join(work, "tampered");
    await cp(ref, tampered, { recursive: true });
    await flipByte(join(tampered, "snapshot.db"), 12_000);
    const r = await runCli(["verify", tampered, "--restore-drill", "--scratch-dir", scratch]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^hcp-etcd-backup: backup .* failed the restore drill: .*SHA-256/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    assert.match(r.stdout, /restore drill FAILED/);
    const v = (await manifestAt(tampered)).verifications.at(-1);
    assert.equal(v?.ok, false);
    assert.match(v?.detail ?? "", /SHA-256/);
    assert.equal(v?.checks.includes("restore"), false, "a backup that fails verification is not restored");
    assert.deepEqual(readdirSync(scratch), []);
  });

  it("passes on a backup in Ceph RGW: streamed to a scratch copy, result written back to the S3 manifest", async () => {
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
    const b = await runCli(
      [
        "backup",
        "--endpoints",
        source.endpoint(0),
        ...source.tlsFlags,
        "--to",
        `s3://${s3.bucket}/drill`,
        "--name",
        "lab",
        "--s3-endpoint",
        s3.endpoint,
        "-o",
        "json",
      ],
      { env },
    );
    assert.equal(b.code, 0, b.stderr);
    const s3ref = (JSON.parse(b.stdout) as { ref: string }).ref;
    const r = await runCli(
      ["verify", s3ref, "--restore-drill", "--scratch-dir", scratch, "--s3-endpoint", s3.endpoint, "-o", "json"],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as DrillOutput).comparison?.equal, true);
    const store = openStore(s3ref, {
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const m = JSON.parse((await store.read("manifest.json")).toString("utf8")) as Manifest;
    assert.equal(m.verifications.at(-1)?.ok, true);
    assert.ok(m.verifications.at(-1)?.checks.includes("live-keys"));
    assert.deepEqual(readdirSync(scratch), []);

    // restore local from the same S3 backup: staged beside the target, verified, then gone.
    const parent = join(work, "from-s3");
    await mkdir(parent);
    const local = await runCli(
      ["restore", "local", s3ref, "--data-dir", join(parent, "data"), "--s3-endpoint", s3.endpoint, "-o", "json"],
      { env },
    );
    assert.equal(local.code, 0, local.stderr);
    assert.ok((JSON.parse(local.stdout) as { checks: string[] }).checks.includes("manifest"));
    assert.deepEqual(readdirSync(parent), ["data"], "no temp sibling left");
    assert.deepEqual(readdirSync(join(parent, "data")).sort(), ["member-0", "pki"], "no staged snapshot left");
  });

  it("SIGINT while its etcd starts: exit 130, its etcd stopped, scratch removed, the manifest left as it was", async () => {
    await interruptDrill(ref, scratch, { after: /"msg":"snapshot restored and its keys sorted"/, signal: "SIGINT" });
  });

  describe("the comparison itself", () => {
    it("sorts the snapshot's live keys the same when spilled to disk in many runs", async () => {
      const file = join(ref, "snapshot.db");
      const expected = sortedKeys(liveKeys(file)).map(
        (k) => `${k.key.toString("hex")}:${k.valueHash}:${k.modRevision}`,
      );
      const sorted = await sortLiveKeys(file, { scratchDir: scratch, memoryBytes: 1024 });
      assert.ok(sorted.runs > 5, `runs: ${sorted.runs}`);
      const got: string[] = [];
      for await (const k of sorted)
        got.push(`${k.key.toString("hex")}:${k.valueHash.toString("hex")}:${k.modRevision}`);
      assert.deepEqual(got, expected);
      assert.deepEqual(readdirSync(scratch), [], "runs removed");
    });

    it("reads a live etcd in small pages at the snapshot's revision: equal; at the current revision: the changes", async () => {
      const file = join(ref, "snapshot.db");
      const client = await source.client(0);
      try {
        await client.put("/registry/configmaps/ns-0/cm-5", "changed after the backup");
        await client.delete("/registry/configmaps/ns-1/cm-6");
        await client.put("/registry/configmaps/ns-9/new", "added after the backup");
        const atBackup = await compareKeyStreams(
          await sortLiveKeys(file, { scratchDir: scratch }),
          liveKeyStates(client, { revision, pageBytes: 2000 }),
        );
        assert.equal(atBackup.equal, true, JSON.stringify(atBackup.examples));
        const now = await compareKeyStreams(
          await sortLiveKeys(file, { scratchDir: scratch }),
          liveKeyStates(client, { revision: 0, pageBytes: 2000 }),
        );
        assert.equal(now.equal, false);
        assert.deepEqual([now.missing, now.extra, now.changed], [1, 1, 1]);
        assert.deepEqual(
          now.examples.map((e) => [e.key, e.problem, e.fields?.join()]),
          [
            ["/registry/configmaps/ns-0/cm-5", "changed", "value,mod_revision,version"],
            ["/registry/configmaps/ns-1/cm-6", "missing", undefined],
            ["/registry/configmaps/ns-9/new", "extra", undefined],
          ],
        );
      } finally {
        client.close();
      }
      assert.equal(existsSync(scratch), true);
    });
    it("reads values too large for one page of 100 keys (past gRPC's 64 MiB message limit) by halving the page", async () => {
      const client = await source.client(0);
      try {
        // 1 MiB values under /kubernetes.io/, which sorts first: a first page of 100 keys would be ~90 MiB.
        await loadKubernetesData(client, { targetBytes: 90 * 1024 * 1024, valueSize: 1024 * 1024, seed: 7 });
        const file = join(work, "large-values.db");
        await etcdctl(source, ["snapshot", "save", file]);
        const c = await compareKeyStreams(
          await sortLiveKeys(file, { scratchDir: scratch }),
          liveKeyStates(client, { revision: 0 }),
        );
        assert.equal(c.equal, true, JSON.stringify(c.examples));
        assert.equal(c.liveKeys, liveKeys(file).size);
      } finally {
        client.close();
      }
    });
  });
});

/**
 * Starts a drill, sends `signal` when its log shows `after`, and checks what an interrupted drill
 * leaves: the signal's exit status, no etcd of the run, the scratch directory empty, the manifest
 * as it was. Returns the drill's log, to tell where the signal landed.
 */
async function interruptDrill(
  ref: string,
  scratch: string,
  o: { after: RegExp; signal: "SIGINT" | "SIGTERM" },
): Promise<string> {
  const before = await readFile(join(ref, "manifest.json"), "utf8");
  const cli = spawnCli(["--log-format", "json", "verify", ref, "--restore-drill", "--scratch-dir", scratch]);
  await cli.waitForLine(o.after);
  cli.child.kill(o.signal);
  const exit = await cli.exited;
  assert.equal(exit.code, o.signal === "SIGINT" ? 130 : 143, cli.stderr());
  assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");
  assert.equal(await readFile(join(ref, "manifest.json"), "utf8"), before, "manifest unchanged");
  assert.deepEqual(processesMentioning(scratch), [], "no etcd left running on the scratch data");
  return cli.stderr();
}

describe("verify --restore-drill interrupted at any point of a large backup (100,000 keys)", () => {
  let source: EtcdCluster;
  let work: string;
  let scratch: string;
  let ref: string;

  before(async () => {
    source = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    scratch = join(work, "scratch");
    await mkdir(scratch);
    const client = await source.client(0);
    try {
      // Small values, many keys: the sort's work grows with the number of revisions.
      await loadKubernetesData(client, { targetBytes: 100_000 * 100, valueSize: 100, concurrency: 32, seed: 21 });
    } finally {
      client.close();
    }
    ref = await backupToLocalStore(source, join(work, "store"));
  });
  after(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("SIGTERM while verifying the backup: exit 143, nothing left, nothing recorded", async () => {
    const log = await interruptDrill(ref, scratch, { after: /"msg":"verifying the backup"/, signal: "SIGTERM" });
    assert.doesNotMatch(log, /"msg":"backup verified"/, "the signal landed during verification");
  });

  it("SIGINT mid-sort (its progress logged, not yet sorted): exit 130, sort thread stopped, runs and etcd gone", async () => {
    const log = await interruptDrill(ref, scratch, { after: /"msg":"sorting the snapshot's keys"/, signal: "SIGINT" });
    assert.doesNotMatch(log, /"msg":"snapshot's keys sorted"/, "the signal landed while the keys were being sorted");
  });

  it("SIGINT while comparing the live keys: exit 130, etcd stopped, scratch removed", async () => {
    const log = await interruptDrill(ref, scratch, {
      after: /"msg":"throwaway etcd started on the restored data"/,
      signal: "SIGINT",
    });
    assert.doesNotMatch(log, /"msg":"live keys compared"/, "the signal landed during the comparison");
  });

  it("SIGINT mid-way through verify's decryption proof: exit 130 at once, its thread stopped, nothing recorded", async () => {
    const keyFile = join(work, "some.key");
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    const before = await readFile(join(ref, "manifest.json"), "utf8");
    const files = readdirSync(ref).sort();
    const cli = spawnCli(["--log-format", "json", "verify", ref, "--key-file", keyFile]);
    // The proof's progress reaches the log only while the main thread is free to answer signals.
    await cli.waitForLine(/"msg":"opening stored values"/);
    cli.child.kill("SIGINT");
    const exit = await cli.exited;
    assert.equal(exit.code, 130, cli.stderr());
    const seen = [...cli.stderr().matchAll(/"values":(\d+)/g)].map((m) => Number(m[1]));
    assert.ok((seen.at(-1) ?? 0) < 100_000, `the signal landed mid-proof (values read: ${seen.join(",")})`);
    assert.equal(await readFile(join(ref, "manifest.json"), "utf8"), before, "manifest unchanged");
    assert.deepEqual(readdirSync(ref).sort(), files, "nothing left beside the backup");
    // Uninterrupted, the same proof reads every value and records its result.
    const r = await runCli(["verify", ref, "--key-file", keyFile, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = (JSON.parse(r.stdout) as { verification: { decryption: { forms: Record<string, number> } } }).verification
      .decryption;
    assert.ok(Object.values(d.forms).reduce((a, b) => a + b, 0) >= 100_000, JSON.stringify(d.forms));
  });

  it("and uninterrupted, the same backup passes the drill (so the points above are inside a drill that works)", async () => {
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as DrillOutput;
    assert.equal(out.comparison?.equal, true);
    assert.ok((out.comparison?.snapshotKeys ?? 0) >= 100_000, `keys: ${out.comparison?.snapshotKeys}`);
    assert.deepEqual(readdirSync(scratch), []);
  });
});
