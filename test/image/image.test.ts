// Runs the container image `make image` built (`make test-image` builds it, then runs this file; `make test`
// does not: it needs podman). The image runs as the CronJob runs it: read-only root, only /tmp writable, its
// own numeric user; here against the real test etcd (mutual TLS) and Ceph RGW on 127.0.0.1 (--network host).
import assert from "node:assert/strict";
import { chmodSync, chownSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliResult, runCli, runProcess } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { S3Server } from "../support/s3-server.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
const IMAGE = process.env.HCPEB_IMAGE ?? `localhost/hcp-etcd-backup:${VERSION}`;
/** The Containerfile's USER. */
const IMAGE_UID = 65532;

// This machine's quirks stay here, not in the image: podman's default crun fails on hybrid cgroups (runc
// works), and runc may not raise RLIMIT_NOFILE/NPROC above the host's unless the limits are given.
const RUN = [
  "--runtime",
  "/usr/sbin/runc",
  "run",
  "--rm",
  "--read-only",
  // Not podman's default tmpfs on /run and /var/tmp too: only /tmp is writable, as the CronJob's emptyDir.
  "--read-only-tmpfs=false",
  "--tmpfs",
  "/tmp:rw,mode=1777",
  "--network",
  "host",
  "--ulimit",
  "nofile=4096:4096",
  "--ulimit",
  "nproc=1024:1024",
];

function podman(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess("podman", args, { env, timeoutMs: 180_000 });
}

/** Every file and directory under `dir`, with its owner and mode, relative paths. */
function tree(dir: string, rel = ""): Array<{ path: string; uid: number; mode: number; dir: boolean }> {
  return readdirSync(join(dir, rel)).flatMap((name) => {
    const path = join(rel, name);
    const st = lstatSync(join(dir, path));
    const entry = { path, uid: st.uid, mode: st.mode & 0o777, dir: st.isDirectory() };
    return st.isDirectory() ? [entry, ...tree(dir, path)] : [entry];
  });
}

describe(`the image ${IMAGE} (podman, runc, read-only root)`, () => {
  let cluster: EtcdCluster;
  let s3: S3Server;
  let work: string;
  let tls: string;
  let etcdArgs: string[];

  before(async () => {
    const exists = await podman(["image", "exists", IMAGE]);
    assert.equal(exists.code, 0, `no image ${IMAGE}: run 'make test-image' (it builds the image first)`);
    [cluster, s3] = await Promise.all([EtcdCluster.start({ members: 1 }), S3Server.start()]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    await loadCluster(cluster, { targetBytes: 4 * 1024 * 1024, valueSize: [65536, 262144] });
    // The client certificate as a Secret volume gives it: readable by the pod's user only, mounted read-only.
    tls = join(work, "tls");
    mkdirSync(tls, { mode: 0o700 });
    const files = cluster.tlsFiles;
    for (const [name, from] of [
      ["ca.crt", files.cacert],
      ["tls.crt", files.cert],
      ["tls.key", files.key],
    ] as const) {
      copyFileSync(from, join(tls, name));
      chmodSync(join(tls, name), 0o400);
      chownSync(join(tls, name), IMAGE_UID, IMAGE_UID);
    }
    chownSync(tls, IMAGE_UID, IMAGE_UID);
    etcdArgs = [
      "--endpoints",
      cluster.endpoints.join(","),
      "--cacert",
      "/tls/ca.crt",
      "--cert",
      "/tls/tls.crt",
      "--key",
      "/tls/tls.key",
    ];
  });
  after(async () => {
    await Promise.all([cluster?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("runs the CLI as its exec entrypoint, as a numeric non-root user, with etcdctl for restores", async () => {
    const inspect = await podman(["image", "inspect", "--format", "{{json .Config}}", IMAGE]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const config = JSON.parse(inspect.stdout) as { User: string; Entrypoint: string[] };
    assert.equal(config.User, `${IMAGE_UID}:${IMAGE_UID}`);
    assert.deepEqual(config.Entrypoint, ["hcp-etcd-backup"]);

    const version = await podman([...RUN, IMAGE, "--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);

    // `restore local` runs etcdctl 3.4 (Debian's etcd-client) from PATH.
    const etcdctl = await podman([...RUN, "--entrypoint", "etcdctl", IMAGE, "version"]);
    assert.equal(etcdctl.code, 0, etcdctl.stderr);
    assert.match(etcdctl.stdout, /^etcdctl version: 3\.4\./m);
  });

  it("backs up the test etcd into a mounted directory, as its own user; the host's CLI verifies the backup", async () => {
    const store = join(work, "store");
    mkdirSync(store, { mode: 0o700 });
    chownSync(store, IMAGE_UID, IMAGE_UID);
    const r = await podman([
      ...RUN,
      "-v",
      `${tls}:/tls:ro`,
      "-v",
      `${store}:/backups`,
      IMAGE,
      "backup",
      ...etcdArgs,
      "--to",
      "/backups",
      "--name",
      "lab",
      "-o",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ref: string; snapshot: { totalKeys: number } };
    assert.match(out.ref, /^\/backups\/lab\//);
    assert.ok(out.snapshot.totalKeys > 0);

    // Everything it wrote belongs to the image's user (it never ran as root) and the snapshot is private.
    const written = tree(store);
    assert.ok(written.some((f) => f.path.endsWith("snapshot.db")));
    assert.deepEqual(
      written.filter((f) => f.uid !== IMAGE_UID),
      [],
    );
    for (const f of written.filter((w) => w.path.endsWith("snapshot.db"))) assert.equal(f.mode, 0o600, f.path);

    const verified = await runCli(["verify", join(store, out.ref.slice("/backups/".length)), "-o", "json"]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);
  });

  it("backs up the test etcd into Ceph RGW with credentials from the environment; the host's CLI verifies it", async () => {
    // `-e NAME` without a value passes the variable from podman's environment: the secret is not on a command line.
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
    const r = await podman(
      [
        ...RUN,
        ...Object.keys(env).flatMap((k) => ["-e", k]),
        "-v",
        `${tls}:/tls:ro`,
        IMAGE,
        "backup",
        ...etcdArgs,
        "--to",
        `s3://${s3.bucket}/image`,
        "--s3-endpoint",
        s3.endpoint,
        "--name",
        "lab",
        "-o",
        "json",
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(s3.secretAccessKey), "the secret is never printed");
    const out = JSON.parse(r.stdout) as { ref: string };
    assert.match(out.ref, new RegExp(`^s3://${s3.bucket}/image/lab/`));

    const verified = await runCli(["verify", out.ref, "--s3-endpoint", s3.endpoint, "-o", "json"], { env });
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);
  });
});
