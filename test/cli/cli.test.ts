import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openKey } from "../../src/hostedcluster/key-envelope.js";
import { CLI, runCli } from "../support/cli.js";
import { leftoverProcesses, leftoverTempDirs } from "../support/leftovers.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
}

describe("hcp-etcd-backup CLI (built binary)", () => {
  it("prints its version", async () => {
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it("runs as an executable through its shebang, with the V8 young-generation cap applied", () => {
    // The flag lives only in the shebang (V8 reads it at start-up), so the command must start that way.
    const out = execFileSync(CLI, ["--version"], { encoding: "utf8" });
    assert.equal(out.trim(), pkg.version);
    const script = "console.log(process.execArgv.join(' '))";
    const shebang = readFileSync(CLI, "utf8").split("\n")[0] ?? "";
    const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(shebang);
    assert.ok(m, `shebang: ${shebang}`);
    const flags = (m[1] as string).split(" ");
    assert.ok(flags.includes("--max-semi-space-size=4"));
    // The same flags on a plain node command line are accepted by this Node (a typo would abort start-up).
    assert.match(
      execFileSync(process.execPath, [...flags, "-e", script], { encoding: "utf8" }),
      /--max-semi-space-size=4/,
    );
  });

  it("lists its commands in --help", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: hcp-etcd-backup/);
    assert.match(r.stdout, /\bdemo\b/);
  });

  it("rejects an unknown option with exit 2 and one line", async () => {
    const r = await runCli(["--no-such-flag"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /^hcp-etcd-backup: unknown option '--no-such-flag'/);
  });

  it("rejects an unknown command with exit 2 and one line", async () => {
    const r = await runCli(["bakcup"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /^hcp-etcd-backup: unknown command 'bakcup' \(Did you mean backup\?\)$/);
  });

  it("runs the demo end to end: a hosted cluster backed up and back as it was; nothing left running", async () => {
    const dirsBefore = new Set(leftoverTempDirs());
    const r = await runCli(["demo", "--data-mib", "2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /etcd 3\.4\.\d+ is healthy: 3 members/);
    const loaded = /loaded (\d+) keys; etcd reports (\d+) live keys under \/kubernetes\.io\//.exec(r.stdout);
    assert.ok(loaded, r.stdout);
    assert.equal(loaded[1], loaded[2]);
    const before = /before: (.*)/.exec(r.stdout)?.[1];
    const afterLine = /after: {2}(.*)/.exec(r.stdout)?.[1];
    assert.equal(
      before,
      "pausedUntil unset; kube-apiserver 3/3, openshift-apiserver 3/3, openshift-oauth-apiserver 3/3 available",
    );
    assert.equal(afterLine, before, "the hosted cluster is back exactly as it was");
    assert.match(
      r.stdout,
      /backup \d{8}T\d{6}Z-r\d+-[0-9a-f]{6}: revision \d+, [\d.]+ MiB from member-\d \(reached by port-forward\); writers were down [\d.]+s/,
    );
    assert.match(r.stdout, /encryption key key-\d+ sealed as encryption-key\.age; .* matches the cluster's key: yes/);
    assert.match(r.stdout, /list: 1 backup\(s\) in the store\n .*clusters\/example {2}quiesced/);
    assert.match(r.stdout, /verify: OK \(sha256-trailer, byte-count, status, manifest, structure, etcd-encoding\)/);
    // The restore half: a drill, the patched manifests, a local restore that serves exactly the loaded keys.
    assert.match(r.stdout, /verify --restore-drill: OK in [\d.]+s: restore drill: etcd served \d+ live keys/);
    assert.doesNotMatch(r.stdout, /\bBLOCK\b/);
    assert.match(r.stdout, /PASS {4}key-fingerprint: key-\d+, SHA-256 [0-9a-f]{16}… as the manifest records/);
    assert.match(r.stdout, /restoreSnapshotURL: absent -> \[presigned URL\]/);
    assert.match(r.stdout, /data\.key: \[the rendered key\] -> \[the saved key\]/);
    assert.match(r.stdout, /started: 3 members, 1 cluster ID, 1 leader/);
    const served =
      /the restored etcd serves (\d+) keys at revision \d+; the backup holds (\d+): every key and value equal/.exec(
        r.stdout,
      );
    assert.ok(served, r.stdout);
    // The sample data plus nothing else: HyperShift's simulated objects live in the simulator, not in etcd.
    assert.equal(served[1], loaded[1]);
    assert.match(r.stdout, /removed the temporary store .* \(keep one with --store DIR\)/);
    assert.match(r.stdout, /demo finished\n$/);
    assert.deepEqual(leftoverProcesses(tmpdir()), []);
    assert.deepEqual(
      leftoverTempDirs().filter((d) => !dirsBefore.has(d)),
      [],
    );
  });

  it("keeps the demo's backup with --store DIR, where list and verify find it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    try {
      const store = join(dir, "demo-store");
      const r = await runCli(["demo", "--members", "1", "--data-mib", "1", "--store", store]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`the backup stays in ${store.replace(/[/.]/g, "\\$&")}`));
      const listed = await runCli(["list", "--from", store, "-o", "json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const [entry] = JSON.parse(listed.stdout) as Array<{ ref: string; label: string }>;
      assert.equal(entry?.label, "clusters/example");
      // The identity kept beside the store opens the sealed key.
      const identity = readFileSync(join(store, "demo-age-identity.txt"), "utf8");
      const key = await openKey(readFileSync(join(entry?.ref ?? "", "encryption-key.age")), identity);
      assert.equal(key.length, 32);
      const v = await runCli(["verify", entry?.ref ?? ""]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      // The patched manifests stay too, private, with the saved key in the encryption Secret.
      const patched = join(store, "restore-example.yaml");
      assert.equal(statSync(patched).mode & 0o777, 0o600);
      assert.match(
        readFileSync(patched, "utf8"),
        new RegExp(`key: ${Buffer.from(key).toString("base64").replace(/[+/]/g, "\\$&")}`),
      );
      // A second demo into the same store keeps the identity: both backups' keys still open.
      const again = await runCli(["demo", "--members", "1", "--data-mib", "1", "--store", store]);
      assert.equal(again.code, 0, again.stderr);
      const both = JSON.parse((await runCli(["list", "--from", store, "-o", "json"])).stdout) as Array<{ ref: string }>;
      assert.equal(both.length, 2);
      const identityNow = readFileSync(join(store, "demo-age-identity.txt"), "utf8");
      for (const b of both) await openKey(readFileSync(join(b.ref, "encryption-key.age")), identityNow);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails the demo with one line when etcd is not installed", async () => {
    // A PATH with openssl (for the certificates) but no etcd.
    const bin = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    try {
      await symlink(
        execFileSync("sh", ["-c", "command -v openssl"], { encoding: "utf8" }).trim(),
        join(bin, "openssl"),
      );
      const r = await runCli(["demo"], { env: { PATH: bin } });
      assert.equal(r.code, 1);
      assertOneLineError(r.stderr, /cannot start etcd: "etcd" not found; install it with: apt-get install etcd-server/);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });
});
