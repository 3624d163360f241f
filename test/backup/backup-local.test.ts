import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { backupEtcd } from "../../src/backup/etcd-backup.js";
import { parseEndpoints } from "../../src/etcd/endpoint.js";
import { LocalStore } from "../../src/store/local-store.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { etcdctlStatus } from "../support/etcdctl.js";
import { flipByte } from "../support/files.js";

const run = promisify(execFile);

describe("backup into a local store (3-member etcd with mutual TLS)", () => {
  let cluster: EtcdCluster;
  let work: string;
  let tlsArgs: string[];

  before(async () => {
    cluster = await EtcdCluster.start();
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // Larger than gRPC's 4 MiB window plus socket buffers: a member killed early is killed mid-stream.
    await loadCluster(cluster, { targetBytes: 40 * 1024 * 1024, valueSize: [262144, 1048576] });
    tlsArgs = cluster.tlsFlags;
  });
  after(async () => {
    await cluster?.stop();
    if (work) {
      execFileSync("sh", ["-c", `umount ${join(work, "tiny")} 2>/dev/null || true`]);
      await rm(work, { recursive: true, force: true });
    }
  });

  it("backs up, lists, verifies; the object restores with etcdctl and its status equals the manifest", async () => {
    const store = join(work, "store");
    const r = await runCli([
      "backup",
      "--endpoints",
      cluster.endpoints.join(","),
      ...tlsArgs,
      "--to",
      store,
      "--name",
      "lab",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ref: string;
      member: { isLeader: boolean };
      snapshot: { statusHash: number; revision: number; totalKeys: number; totalSize: number };
    };
    assert.equal(out.member.isLeader, true, "the leader by default");
    const file = join(out.ref, "snapshot.db");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await etcdctlStatus(file, "json")), {
      hash: out.snapshot.statusHash,
      revision: out.snapshot.revision,
      totalKey: out.snapshot.totalKeys,
      totalSize: out.snapshot.totalSize,
    });
    await run("etcdctl", ["snapshot", "restore", file, "--data-dir", join(work, "restored")], {
      env: { ...process.env, ETCDCTL_API: "3" },
    });

    const listed = await runCli(["list", "--from", store]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(
      listed.stdout,
      new RegExp(
        `${out.ref.replace(/[/.]/g, "\\$&")}\\s+lab\\s+\\S+\\s+${out.snapshot.revision}\\s+${out.snapshot.totalKeys}\\s.*yes`,
      ),
    );
    // The store, or a series' folder in it, is not a backup: one line says which ref to pass and how to get it.
    for (const notOne of [store, join(store, "lab")]) {
      const wrong = await runCli(["verify", notOne]);
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.equal(wrong.stderr.trimEnd().split("\n").length, 1, wrong.stderr);
      assert.ok(
        wrong.stderr.includes(
          `${notOne} holds backups but is not one: pass a backup's ref, as \`hcp-etcd-backup list --from ${notOne}\` prints them`,
        ),
        wrong.stderr,
      );
    }

    const v = await runCli(["verify", out.ref, "-o", "json"]);
    assert.equal(v.code, 0, v.stderr);
    const manifest = JSON.parse(await readFile(join(out.ref, "manifest.json"), "utf8")) as {
      verifications: Array<{ ok: boolean; checks: string[] }>;
    };
    assert.equal(manifest.verifications.length, 2, "verify appended its result");
    assert.deepEqual(manifest.verifications[1]?.checks.includes("structure"), true);

    // One flipped bit in the stored object: verify must fail with exit 3 and record the failure.
    await flipByte(file, 12345, 0x04);
    const bad = await runCli(["verify", out.ref]);
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /FAILED/);
    const list2 = await runCli(["list", "--from", store, "-o", "json"]);
    assert.deepEqual(
      (JSON.parse(list2.stdout) as Array<{ verified: boolean }>).map((x) => x.verified),
      [false],
    );
  });

  it("falls back to another healthy member when the one streaming is killed", async () => {
    const store = new LocalStore(join(work, "fallback"));
    const statuses = await cluster.statuses();
    const leaderIndex = statuses.findIndex((s) => s.isLeader);
    const leaderPid = cluster.pid(leaderIndex);
    assert.ok(leaderPid);
    const fallbacks: string[] = [];
    let killed = false;
    try {
      const result = await backupEtcd({
        endpoints: parseEndpoints(cluster.endpoints.join(",")),
        tls: await cluster.tlsMaterial(),
        store,
        label: "fallback",
        onProgress: () => {
          if (!killed) {
            killed = true;
            process.kill(leaderPid, "SIGKILL"); // mid-stream: the first chunk has arrived, most have not
          }
        },
        onFallback: (failed, _reason, next) => fallbacks.push(`${failed}->${next}`),
      });
      assert.equal(killed, true);
      assert.equal(fallbacks.length, 1, "one member failed, the next one delivered");
      assert.notEqual(result.manifest.source.member.name, cluster.memberName(leaderIndex));
      assert.ok(
        !readdirSync(join(work, "fallback", "fallback")).some(
          (d) => !existsSync(join(work, "fallback", "fallback", d, "manifest.json")),
        ),
        "no manifest-less folder left",
      );
      const v = await runCli(["verify", result.ref]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
    } finally {
      // A failed assertion must not leave the leader down for the tests after this one.
      if (!cluster.isRunning(leaderIndex)) await cluster.restart(leaderIndex);
    }
  });

  it("with --member, a dead member fails with one line saying how to pick another", async () => {
    try {
      await cluster.kill(2);
      const r = await runCli([
        "backup",
        "--endpoints",
        cluster.endpoints.join(","),
        ...tlsArgs,
        "--to",
        join(work, "m"),
        "--name",
        "m",
        "--member",
        cluster.memberName(2),
      ]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /no reachable member named "member-2"; reachable: member-\d, member-\d/);
    } finally {
      if (!cluster.isRunning(2)) await cluster.restart(2);
    }
  });

  it("snapshot save writes a verified 0600 file and leaves no .part", async () => {
    const file = join(work, "saved.db");
    const r = await runCli(["snapshot", "save", file, "--endpoints", cluster.endpoint(1), ...tlsArgs]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Snapshot saved at .*saved\.db \(\d+ bytes, revision \d+, sha256 [0-9a-f]{64} verified\)\n$/,
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(existsSync(`${file}.part`), false);
    const ours = await runCli(["snapshot", "status", file, "-w", "json"]);
    assert.equal(ours.stdout, await etcdctlStatus(file, "json"));
  });

  it("snapshot save onto a full disk fails with one line and leaves nothing", async () => {
    const tiny = join(work, "tiny");
    await mkdir(tiny);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny]);
    try {
      const r = await runCli(["snapshot", "save", join(tiny, "s.db"), "--endpoints", cluster.endpoint(0), ...tlsArgs]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^hcp-etcd-backup: no space left on the device while writing .*s\.db; nothing was kept\n$/,
      );
      assert.deepEqual(readdirSync(tiny), []);
    } finally {
      execFileSync("umount", [tiny]);
    }
  });

  it("prune keeps the newest verified backup and removes old leftovers", async () => {
    const root = join(work, "prune");
    for (let i = 0; i < 3; i++) {
      const r = await runCli(["backup", "--endpoints", cluster.endpoint(0), ...tlsArgs, "--to", root, "--name", "p"]);
      assert.equal(r.code, 0, r.stderr);
    }
    // An interrupted backup from two hours ago: objects, no manifest.
    const leftover = join(root, "p", "20200101T000000Z-r1");
    await mkdir(leftover, { recursive: true });
    await writeFile(join(leftover, "snapshot.db"), "partial");
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(leftover, "snapshot.db"), old, old);
    const dry = await runCli(["prune", "--from", root, "--keep-last", "1", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((dry.stdout.match(/^would delete /gm) ?? []).length, 3, dry.stdout);
    assert.equal(readdirSync(join(root, "p")).length, 4, "dry run deleted nothing");
    const r = await runCli(["prune", "--from", root, "--keep-last", "1"]);
    assert.equal(r.code, 0, r.stderr);
    const left = readdirSync(join(root, "p"));
    assert.equal(left.length, 1);
    const listed = JSON.parse((await runCli(["list", "--from", root, "-o", "json"])).stdout) as Array<{ ref: string }>;
    assert.deepEqual(
      listed.map((x) => x.ref),
      [join(root, "p", left[0] as string)],
    );
    const none = await runCli(["prune", "--from", root]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /prune needs a policy/);
  });

  it("reports bad input with one line and the right exit code", async () => {
    const cases: Array<{ args: string[]; code: number; re: RegExp }> = [
      { args: ["backup", "--endpoints", cluster.endpoint(0), ...tlsArgs, "--name", "x"], code: 2, re: /missing --to/ },
      {
        args: ["backup", "--endpoints", cluster.endpoint(0), ...tlsArgs, "--to", "ftp://x/y", "--name", "x"],
        code: 2,
        re: /unsupported store URL/,
      },
      {
        args: ["backup", "--endpoints", cluster.endpoint(0), ...tlsArgs, "--to", work, "--name", "../x"],
        code: 2,
        re: /invalid backup name/,
      },
      {
        args: ["backup", "--endpoints", "https://127.0.0.1:1", ...tlsArgs, "--to", join(work, "u"), "--name", "x"],
        code: 1,
        re: /no etcd endpoint answered: cannot reach etcd at https:\/\/127\.0\.0\.1:1/,
      },
      {
        args: ["backup", "--endpoints", cluster.endpoint(0), "--cacert", "/nope.pem", "--to", work, "--name", "x"],
        code: 2,
        re: /cannot read --cacert \/nope\.pem: ENOENT/,
      },
      {
        args: [
          "backup",
          "--endpoints",
          cluster.endpoint(0),
          "--cacert",
          cluster.tlsFiles.cacert,
          "--to",
          join(work, "v"),
          "--name",
          "x",
        ],
        code: 1,
        re: /TLS failure .*refused our client certificate/,
      },
      {
        args: [
          "backup",
          "--endpoints",
          cluster.endpoint(0),
          "--cert",
          cluster.tlsFiles.cert,
          "--to",
          work,
          "--name",
          "x",
        ],
        code: 2,
        re: /--cert and --key go together/,
      },
      {
        args: ["snapshot", "save", join(work, "two.db"), "--endpoints", cluster.endpoints.join(","), ...tlsArgs],
        code: 2,
        re: /exactly one endpoint/,
      },
      {
        args: ["verify", join(work, "nothing-here")],
        code: 1,
        re: /no store at .*nothing-here: the directory does not exist/,
      },
    ];
    for (const c of cases) {
      const r = await runCli(c.args);
      assert.equal(r.code, c.code, `${c.args.join(" ")}\n${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, c.re);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});
