import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { spawnCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { leftoverTempDirs } from "../support/leftovers.js";
import { S3Server } from "../support/s3-server.js";
import { TcpRelay } from "../support/tcp-relay.js";

interface Interrupted {
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  /** From the first signal to the process's exit. */
  readonly exitMs: number;
}

/**
 * Runs `backup` through a relay that holds the snapshot stream after 3 MiB (more than one 8 MiB
 * part is not needed: the multipart upload starts with the first full part of 6-8 MiB, so the
 * relay lets 12 MiB through for S3), then sends the signals.
 */
async function backupAndInterrupt(args: string[], env: NodeJS.ProcessEnv, signals: NodeJS.Signals[], relay: TcpRelay) {
  const run = spawnCli(args, { env });
  await Promise.race([
    relay.paused,
    run.exited.then(() => {
      throw new Error(`backup exited before the stream was held: ${run.stderr()}`);
    }),
  ]);
  const t0 = Date.now();
  for (const s of signals) run.child.kill(s);
  const { code } = await run.exited;
  return { code, stderr: run.stderr(), stdout: run.stdout(), exitMs: Date.now() - t0 } satisfies Interrupted;
}

describe("a signal mid-stream stops the backup and leaves nothing behind", () => {
  let cluster: EtcdCluster;
  let s3: S3Server;
  let work: string;
  const relays: TcpRelay[] = [];

  before(async () => {
    [cluster, s3] = await Promise.all([EtcdCluster.start({ members: 1 }), S3Server.start()]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    await loadCluster(cluster, { targetBytes: 24 * 1024 * 1024, valueSize: [262144, 1048576] });
  });
  after(async () => {
    for (const r of relays) await r.stop();
    await Promise.all([cluster?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function relay(pauseAfterBytes: number): Promise<TcpRelay> {
    const r = await TcpRelay.start(Number(new URL(cluster.endpoint(0)).port), pauseAfterBytes);
    relays.push(r);
    return r;
  }

  const cases: Array<{ signals: NodeJS.Signals[]; code: number }> = [
    { signals: ["SIGINT"], code: 130 },
    { signals: ["SIGTERM"], code: 143 },
    { signals: ["SIGINT", "SIGINT"], code: 130 },
  ];

  for (const c of cases) {
    const what = c.signals.join(" + ");
    it(`into a local store: ${what} exits ${c.code}, no backup folder, no .part file`, async (t) => {
      const r = await relay(3 * 1024 * 1024);
      const tempBefore = new Set(leftoverTempDirs());
      const store = join(work, `local-${c.signals.join("-")}`);
      const out = await backupAndInterrupt(
        ["backup", "--endpoints", r.endpoint, ...cluster.tlsFlags, "--to", store, "--name", "int"],
        {},
        c.signals,
        r,
      );
      t.diagnostic(`exit ${out.exitMs} ms after the signal`);
      assert.equal(out.code, c.code, out.stderr);
      assert.match(out.stderr, new RegExp(`received ${c.signals[0]}: stopping and cleaning up`));
      assert.equal(out.stdout, "", "no result printed");
      assert.ok(!/unexpected error|at .*\.js:\d+/.test(out.stderr), out.stderr);
      const files = existsSync(store) ? readdirSync(store, { recursive: true }).map(String) : [];
      assert.deepEqual(
        files.filter((f) => f.endsWith(".part") || f.endsWith("snapshot.db") || f.endsWith("manifest.json")),
        [],
      );
      assert.deepEqual(
        leftoverTempDirs().filter((d) => !tempBefore.has(d)),
        [],
        "the backup made no temp dir, or removed it",
      );
    });

    it(`into S3 (RGW): ${what} exits ${c.code}, no object, no multipart upload left`, async (t) => {
      // More than one part must have been started: 6-8 MiB parts, so let 20 MiB through.
      const r = await relay(20 * 1024 * 1024);
      const prefix = `int-${c.signals.join("-")}`;
      const out = await backupAndInterrupt(
        [
          "backup",
          "--endpoints",
          r.endpoint,
          ...cluster.tlsFlags,
          "--to",
          `s3://${s3.bucket}/${prefix}`,
          "--s3-endpoint",
          s3.endpoint,
          "--name",
          "int",
        ],
        { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region },
        c.signals,
        r,
      );
      t.diagnostic(`exit ${out.exitMs} ms after the signal`);
      assert.equal(out.code, c.code, out.stderr);
      assert.match(out.stderr, new RegExp(`received ${c.signals[0]}: stopping and cleaning up`));
      const client = s3.client();
      try {
        const objects = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
        assert.deepEqual(objects.Contents ?? [], [], "no object was written");
        const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
        assert.deepEqual(uploads.Uploads ?? [], [], "the multipart upload was aborted");
      } finally {
        client.destroy();
      }
    });
  }
});
