import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger, type Logger } from "../../src/logging.js";
import { compareKeyStreams, liveKeyStates } from "../../src/restore/compare-live.js";
import { restoreDrill } from "../../src/restore/drill.js";
import { sortLiveKeys } from "../../src/restore/sorted-live-keys.js";
import { DEFAULT_TAIL_KEYS } from "../../src/snapshot/hashkv.js";
import { liveKeys, sortedKeys } from "../../src/snapshot/keys.js";
import type { Manifest } from "../../src/store/manifest.js";
import { openStore } from "../../src/store/open-store.js";
import { runCli, runProcess, spawnCli } from "../support/cli.js";
import { EtcdCluster, loadKubernetesData } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { flipByte } from "../support/files.js";
import { S3Server } from "../support/s3-server.js";
import { backupToLocalStore, fillSource } from "./helpers.js";

interface DrillOutput {
  ok: boolean;
  problems: string[];
  proof?: {
    method: string;
    hash?: number;
    etcdHash?: number;
    compactRevision?: number;
    fallback?: string;
    disagreed?: string;
  };
  warnings: string[];
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

/** A JSON logger whose lines land in `lines`. */
function pinoTo(lines: string[]): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return createLogger({ format: "json", level: "info", stream });
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
  let compacted: number;

  before(async () => {
    [source, s3] = await Promise.all([EtcdCluster.start({ members: 1 }), S3Server.start()]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    scratch = join(work, "scratch");
    await mkdir(scratch);
    const client = await source.client(0);
    try {
      // Compacted, as kube-apiserver keeps a hosted cluster's etcd, with writes after the compaction.
      compacted = await fillSource(client);
      await client.compact(compacted);
      await client.put("/registry/configmaps/ns-2/cm-7", "overwritten after the compaction");
      await client.delete("/registry/configmaps/ns-3/cm-8");
      revision = await client.put("/registry/configmaps/ns-4/after", "created after the compaction");
    } finally {
      client.close();
    }
    ref = await backupToLocalStore(source, join(work, "store"));
  });
  after(async () => {
    await Promise.all([source?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("passes on a good compacted backup by etcd's HashKV (no read-back, no sort), records it with its proof and time in the manifest, and leaves nothing running or on disk", async () => {
    const before = (await manifestAt(ref)).verifications.length;
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as DrillOutput;
    assert.equal(out.ok, true);
    const expectedKeys = liveKeys(join(ref, "snapshot.db")).size;
    assert.equal(out.proof?.method, "hashkv", JSON.stringify(out.proof));
    assert.equal(out.proof?.compactRevision, compacted);
    assert.equal(out.proof?.etcdHash, out.proof?.hash);
    assert.equal(typeof out.proof?.hash, "number");
    assert.equal(out.comparison, undefined, "nothing read back");
    assert.deepEqual(out.warnings, []);
    assert.deepEqual(Object.keys(out.phases), ["verify", "restore", "start", "hashkv"]);
    const m = await manifestAt(ref);
    assert.equal(m.verifications.length, before + 1);
    const v = m.verifications.at(-1);
    assert.equal(v?.ok, true);
    assert.deepEqual(v?.proof, out.proof);
    for (const c of ["sha256-trailer", "structure", "restore", "etcd-start", "live-keys", "hashkv"])
      assert.ok(v?.checks.includes(c), c);
    assert.ok((v?.seconds ?? 0) > 0);
    assert.match(v?.detail ?? "", new RegExp(`served ${expectedKeys} live keys at revision ${revision}`));
    assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");

    const text = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /restore drill OK in [\d.]+ s \(verify [\d.]+ s, restore [\d.]+ s, start [\d.]+ s, hashkv [\d.]+ s\)/,
    );
    assert.match(
      text.stdout,
      /\n {2}proof: etcd's HashKV 0x[0-9a-f]{8} equals the snapshot's \(compacted revision \d+\)\n/,
    );
  });

  it("falls back to reading every key back when the HashKV cannot decide (a tail over the limit), and says why", async () => {
    const store = openStore(ref);
    const log: string[] = [];
    const logger = pinoTo(log);
    const r = await restoreDrill(store, { scratchDir: scratch, hashKvTailKeys: 0, logger });
    assert.deepEqual(r.problems, []);
    assert.equal(r.verification.ok, true);
    assert.equal(r.proof?.method, "read-back");
    assert.match(
      r.proof?.fallback ?? "",
      new RegExp(`more than 0 keys were written after the compacted revision ${compacted}`),
    );
    assert.equal(r.verification.proof?.method, "read-back");
    assert.equal(r.comparison?.equal, true);
    assert.equal(r.comparison?.liveKeys, liveKeys(join(ref, "snapshot.db")).size);
    assert.deepEqual(Object.keys(r.phases), ["verify", "restore", "start", "hashkv", "sort", "compare"]);
    assert.ok(
      log.some((l) => /HashKV did not decide: reading every key back/.test(l) && /more than 0 keys/.test(l)),
      log.join("\n"),
    );
    assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");
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
    const out = JSON.parse(r.stdout) as DrillOutput;
    assert.equal(out.ok, true);
    assert.equal(out.proof?.method, "hashkv", JSON.stringify(out.proof));
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

  it("an etcd that never becomes healthy (its start timeout, 60 s here) is no verdict: exit 1, one line, nothing recorded, it is killed", async () => {
    // A stand-in etcd first on the drill's PATH that runs but never serves, as a starved one would.
    const bin = join(work, "hung-etcd");
    await mkdir(bin);
    const pids = join(work, "hung-etcd.pids");
    await writeFile(join(bin, "etcd"), `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 600\n`, { mode: 0o755 });
    const before = readFileSync(join(ref, "manifest.json"), "utf8");
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch], {
      env: { PATH: `${bin}${delimiter}${process.env.PATH}` },
      timeoutMs: 300_000,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^hcp-etcd-backup: the throwaway etcd did not become healthy on the restored data within 60s \(.+\); a loaded machine\? nothing was recorded: run the drill again\n$/,
    );
    assert.equal(readFileSync(join(ref, "manifest.json"), "utf8"), before, "no verdict recorded");
    assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");
    for (const pid of readFileSync(pids, "utf8").trim().split("\n").map(Number)) {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      assert.ok(stat === "" || /\) Z /.test(stat), `stand-in etcd ${pid} was killed`);
    }
  });

  it("SIGINT while its etcd starts: exit 130, its etcd stopped, scratch removed, the manifest left as it was", async () => {
    await interruptDrill(ref, scratch, { after: /"msg":"snapshot restored"/, signal: "SIGINT" });
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

describe("verify --restore-drill when the restored etcd does not hold the snapshot's data", () => {
  let sources: EtcdCluster[] = [];
  let work: string;
  let scratch: string;

  /** The same 30 writes into each source, but for one value: the same revision, different data. */
  async function write(cluster: EtcdCluster, odd: string): Promise<number> {
    const client = await cluster.client(0);
    try {
      let revision = 0;
      for (let i = 0; i < 30; i++)
        revision = await client.put(`/registry/configmaps/ns-${i % 3}/cm-${i}`, i === 17 ? odd : `value-${i}`);
      return revision;
    } finally {
      client.close();
    }
  }

  /**
   * A drill of `backedUp`'s new backup whose restore tool (found on PATH) restores a snapshot of
   * `other` instead, whatever file it is given: the restored etcd holds other's data.
   */
  async function drillRestoringOther(backedUp: EtcdCluster, other: EtcdCluster, name: string) {
    const ref = await backupToLocalStore(backedUp, join(work, "store"));
    const otherFile = join(work, `${name}.db`);
    await etcdctl(other, ["snapshot", "save", otherFile]);
    const bin = join(work, `${name}-bin`);
    await mkdir(bin);
    const realTool = (await runProcess("sh", ["-c", "command -v etcdutl || command -v etcdctl"])).stdout.trim();
    const tool = realTool.endsWith("etcdutl") ? "etcdutl" : "etcdctl";
    await writeFile(
      join(bin, tool),
      `#!/bin/sh\nif [ "$1" = snapshot ] && [ "$2" = restore ]; then shift 3; exec "${realTool}" snapshot restore "${otherFile}" "$@"; fi\nexec "${realTool}" "$@"\n`,
      { mode: 0o755 },
    );
    const before = (await manifestAt(ref)).verifications.length;
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch, "-o", "json"], {
      env: { PATH: `${bin}${delimiter}${process.env.PATH}` },
    });
    const m = await manifestAt(ref);
    assert.equal(m.verifications.length, before + 1, "the verdict is recorded");
    assert.deepEqual(readdirSync(scratch), [], "scratch directory emptied");
    return { r, out: JSON.parse(r.stdout) as DrillOutput, recorded: m.verifications.at(-1) };
  }

  before(async () => {
    sources = await Promise.all([EtcdCluster.start({ members: 1 }), EtcdCluster.start({ members: 1 })]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    scratch = join(work, "scratch");
    await mkdir(scratch);
  });
  after(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("etcd's HashKV differs from the snapshot's: the read-back decides, names the key, exit 3, failure recorded", async () => {
    const [backedUp, other] = sources as [EtcdCluster, EtcdCluster];
    const [revision, otherRevision] = await Promise.all([write(backedUp, "as backed up"), write(other, "different")]);
    assert.equal(otherRevision, revision, "both sources at the same revision");
    const { r, out, recorded } = await drillRestoringOther(backedUp, other, "differs");
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^hcp-etcd-backup: backup .* failed the restore drill: .*cm-17/);
    assert.equal(out.ok, false);
    assert.equal(out.proof?.method, "read-back");
    assert.match(
      out.proof?.fallback ?? "",
      new RegExp(`^etcd's HashKV is 0x[0-9a-f]{8}, the snapshot's 0x[0-9a-f]{8} at revision ${revision}$`),
    );
    assert.notEqual(out.proof?.etcdHash, out.proof?.hash);
    assert.equal(out.proof?.disagreed, undefined, "a failed read-back is no disagreement");
    assert.equal(out.comparison?.equal, false);
    assert.deepEqual(out.warnings, []);
    assert.equal(out.problems.length, 1, out.problems.join("\n"));
    assert.match(
      out.problems[0] ?? "",
      /0 keys missing, 0 extra, 1 changed of 30; e\.g\. \/registry\/configmaps\/ns-2\/cm-17 \(value/,
    );
    assert.equal(recorded?.ok, false);
    assert.deepEqual(recorded?.proof, out.proof);
    assert.match(recorded?.detail ?? "", /cm-17/);
  });

  it("the same keys now, but another history: HashKV disagrees, the read-back passes, the warning is recorded", async () => {
    const [backedUp, other] = sources as [EtcdCluster, EtcdCluster];
    // cm-17 overwritten alike in both: what a read-back compares (value, revisions, version) is equal,
    // while HashKV, over every revision, still sees the different value both once held.
    const put = async (c: EtcdCluster) => {
      const client = await c.client(0);
      try {
        return await client.put("/registry/configmaps/ns-2/cm-17", "the same in both");
      } finally {
        client.close();
      }
    };
    const [revision, otherRevision] = await Promise.all([put(backedUp), put(other)]);
    assert.equal(otherRevision, revision);
    const { r, out, recorded } = await drillRestoringOther(backedUp, other, "history");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(out.ok, true);
    assert.equal(out.proof?.method, "read-back");
    assert.match(out.proof?.fallback ?? "", /^etcd's HashKV is 0x[0-9a-f]{8}, the snapshot's 0x[0-9a-f]{8}/);
    assert.equal(out.comparison?.equal, true);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0] ?? "", /yet every key and value read back equal/);
    assert.equal(out.proof?.disagreed, out.warnings[0]);
    assert.equal(recorded?.ok, true);
    assert.equal(recorded?.proof?.disagreed, out.warnings[0], "kept in the manifest for scheduled drills");
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
  /** Compacted before its 100,000 keys were written: a tail too large to hold, so the drill reads back. */
  let ref: string;
  /** The same keys compacted, one write after: the drill's fast path (HashKV). */
  let refFast: string;

  before(async () => {
    source = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    scratch = join(work, "scratch");
    await mkdir(scratch);
    const client = await source.client(0);
    try {
      await client.compact(await client.put("/registry/first", "compacted at this revision"));
      // Small values, many keys: the sort's work grows with the number of revisions.
      await loadKubernetesData(client, { targetBytes: 100_000 * 100, valueSize: 100, concurrency: 32, seed: 21 });
    } finally {
      client.close();
    }
    ref = await backupToLocalStore(source, join(work, "store"));
    const again = await source.client(0);
    try {
      await again.compact(await again.put("/registry/second", "compacted at this revision"));
      await again.put("/registry/third", "the tail");
    } finally {
      again.close();
    }
    refFast = await backupToLocalStore(source, join(work, "store"));
  });
  after(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("SIGTERM while verifying the backup and computing its HashKV: exit 143, nothing left, nothing recorded", async () => {
    const log = await interruptDrill(refFast, scratch, { after: /"msg":"verifying the backup"/, signal: "SIGTERM" });
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

  it("SIGINT while verify proves decryption (in its structural walk): exit 130 at once, its thread stopped, nothing recorded", async () => {
    const keyFile = join(work, "some.key");
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    const before = await readFile(join(ref, "manifest.json"), "utf8");
    const files = readdirSync(ref).sort();
    const cli = spawnCli(["--log-format", "json", "verify", ref, "--key-file", keyFile]);
    // Logged as the structural walk that opens every value starts (the stream's checks have passed).
    await cli.waitForLine(/"msg":"opening every stored value with the saved keys"/);
    cli.child.kill("SIGINT");
    const exit = await cli.exited;
    assert.equal(exit.code, 130, cli.stderr());
    assert.equal(await readFile(join(ref, "manifest.json"), "utf8"), before, "manifest unchanged");
    assert.deepEqual(readdirSync(ref).sort(), files, "nothing left beside the backup");
    // Uninterrupted, the same proof reads every value and records its result.
    const r = await runCli(["verify", ref, "--key-file", keyFile, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = (JSON.parse(r.stdout) as { verification: { decryption: { forms: Record<string, number> } } }).verification
      .decryption;
    assert.ok(Object.values(d.forms).reduce((a, b) => a + b, 0) >= 100_000, JSON.stringify(d.forms));
  });

  it("and uninterrupted, the same backups pass the drill (so the points above are inside a drill that works)", async () => {
    const r = await runCli(["verify", ref, "--restore-drill", "--scratch-dir", scratch, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as DrillOutput;
    assert.equal(out.proof?.method, "read-back");
    assert.match(
      out.proof?.fallback ?? "",
      new RegExp(`more than ${DEFAULT_TAIL_KEYS} keys were written after the compacted revision`),
    );
    assert.equal(out.comparison?.equal, true);
    assert.ok((out.comparison?.snapshotKeys ?? 0) >= 100_000, `keys: ${out.comparison?.snapshotKeys}`);
    const fast = await runCli(["verify", refFast, "--restore-drill", "--scratch-dir", scratch, "-o", "json"]);
    assert.equal(fast.code, 0, fast.stderr);
    const f = JSON.parse(fast.stdout) as DrillOutput;
    assert.equal(f.proof?.method, "hashkv", JSON.stringify(f.proof));
    assert.match(f.verification.detail, /served \d{6,} live keys/);
    assert.deepEqual(readdirSync(scratch), []);
  });
});
