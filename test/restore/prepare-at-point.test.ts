// restore prepare --at-revision / --at-time: a hosted cluster's continuous backup (online, through the
// simulator's port-forward, into Ceph RGW over HTTPS) replayed to a point, saved beside it as a backup of
// its own, and that snapshot presigned: the URL downloads exactly the state etcd had at that revision.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { readChain } from "../../src/continuous/chain.js";
import type { EtcdClient } from "../../src/etcd/client.js";
import { readCatalog } from "../../src/store/catalog.js";
import type { Manifest } from "../../src/store/manifest.js";
import { openStore } from "../../src/store/open-store.js";
import { type RunningCli, runCli, spawnCli } from "../support/cli.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { download } from "../support/https-get.js";
import { liveAt, restoredState } from "../support/pitr.js";
import { docsOf, get } from "../support/rendered-docs.js";
import { S3Server } from "../support/s3-server.js";
import { waitFor } from "../support/wait.js";

const FIXTURE = new URL("../fixtures/rendered/example-aescbc.yaml", import.meta.url).pathname;

describe("restore prepare --at-revision / --at-time of a hosted cluster's continuous backup (Ceph RGW, simulator, real etcd)", () => {
  let lab: HostedLab;
  let s3: S3Server;
  let env: NodeJS.ProcessEnv;
  let s3Flags: string[];
  let identityFile: string;
  let client: EtcdClient;
  let follower: RunningCli | undefined;
  let ref = "";
  let revA = 0;
  let revB = 0;

  const root = () =>
    openStore(`s3://${s3.bucket}/clusters`, {
      endpoint: s3.endpoint,
      caBundle: s3.caBundle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  const chainOf = async () => {
    const { backups } = await readCatalog(root(), { label: "clusters/example" });
    const b = backups.find((x) => x.manifest.pointInTime === undefined);
    if (!b) return undefined;
    return { backup: b, chain: await readChain(root(), b.folder, b.manifest.snapshot.revision) };
  };
  const coveredTo = (revision: number) =>
    waitFor(
      `the chain up to revision ${revision}`,
      async () => {
        const c = await chainOf();
        return c && c.chain.contiguousTo >= revision ? c : undefined;
      },
      60_000,
    );

  before(async () => {
    [lab, s3] = await Promise.all([startHostedLab(), S3Server.start({ tls: true })]);
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
    s3Flags = ["--s3-endpoint", s3.endpoint, "--s3-ca-bundle", s3.caBundle as string];
    const identity = await generateIdentity();
    identityFile = join(lab.work, "identity.txt");
    writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
    client = await lab.etcd.client(0);
    follower = spawnCli(
      [
        "backup",
        "example",
        "-n",
        "clusters",
        "--kubeconfig",
        lab.kubeconfig,
        "--continuous",
        "--segment",
        "1s",
        "--to",
        `s3://${s3.bucket}/clusters`,
        "--key-recipient",
        await identityToRecipient(identity),
        ...s3Flags,
      ],
      { env },
    );
    revA = await client.put("pitr/a", "before the point");
    const c = await coveredTo(revA);
    ref = c.backup.ref;
    revB = await client.put("pitr/b", "after the point");
    await coveredTo(revB);
    follower.child.kill("SIGTERM");
    const { code } = await follower.exited;
    assert.equal(code, 143, follower.stderr());
  });
  after(async () => {
    if (follower && follower.child.exitCode === null && follower.child.signalCode === null)
      follower.child.kill("SIGKILL");
    await follower?.exited;
    client?.close();
    await Promise.all([lab?.stop(), s3?.stop()]);
  });

  it("--at-revision saves the replayed state as a backup of its own and presigns it: the URL holds exactly etcd's state at that revision", async () => {
    const out = join(lab.work, "restore-a.yaml");
    const r = await runCli(
      [
        "restore",
        "prepare",
        ref,
        "--rendered",
        FIXTURE,
        "-o",
        out,
        "--key-identity",
        identityFile,
        "--at-revision",
        String(revA),
        ...s3Flags,
      ],
      { env },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const said =
      /the state at revision (\d+) \(base \d+ \+ \d+ changes from \d+ segments, state SHA-256 [0-9a-f]{64}\) is saved as backup (\S+);/.exec(
        r.stderr,
      );
    assert.ok(said, r.stderr);
    assert.equal(Number(said[1]), revA);
    assert.match(r.stdout, /PASS {2}backup-verified/);
    assert.ok(!(r.stdout + r.stderr).includes("X-Amz-Signature"), "the URL is never printed");

    // The new backup is listed beside the chain's, under the same label, and says where it came from.
    const { backups } = await readCatalog(root(), { label: "clusters/example" });
    const made = backups.find((b) => b.manifest.backupId === said[2]);
    assert.ok(made, "listed");
    const point = (made.manifest as Manifest).pointInTime;
    assert.equal(point?.revision, revA);
    assert.equal(made.manifest.snapshot.revision, revA);
    assert.equal(made.manifest.encryption?.type, "aescbc", "the key facts come along");

    // What etcd-init would download: restored, it is etcd's state at revA (pitr/a there, pitr/b not).
    const yamlText = readFileSync(out, "utf8");
    const url = (
      get(
        docsOf(yamlText).find((d) => d.kind === "HostedCluster"),
        "spec.etcd.managed.storage.restoreSnapshotURL",
      ) as string[]
    )[0] as string;
    assert.ok(url.includes(made.folder), "the URL is the point's snapshot, not the chain's base");
    const got = await download(url, readFileSync(s3.caBundle as string));
    assert.equal(got.status, 200);
    const file = join(lab.work, "at-a.db");
    writeFileSync(file, got.body);
    const dataDir = join(lab.work, "restored-a");
    const restored = await runCli(["restore", "local", file, "--data-dir", dataDir, "-o", "json"]);
    assert.equal(restored.code, 0, restored.stderr);
    const member = (JSON.parse(restored.stdout) as { members: Array<{ dataDir: string }> }).members[0]?.dataDir;
    const state = restoredState(member as string);
    assert.deepEqual(state, await liveAt(lab.etcd, revA));
    assert.ok(state.has("pitr/a") && !state.has("pitr/b"));
  });

  it("a bad point is one line and exit 2, before anything is replayed or written", async () => {
    const before = (await readCatalog(root(), { label: "clusters/example" })).backups.length;
    for (const [flags, pattern] of [
      [["--at-revision", "x"], /--at-revision must be a positive whole number/],
      [["--at-time", "yesterday"], /--at-time must be an RFC 3339 time/],
      [["--at-revision", "5", "--at-time", "2026-12-06T00:00:00Z"], /cannot be combined/],
    ] as const) {
      const r = await runCli(["restore", "prepare", ref, "--rendered", FIXTURE, ...flags, ...s3Flags], { env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.equal((await readCatalog(root(), { label: "clusters/example" })).backups.length, before);
  });
});
