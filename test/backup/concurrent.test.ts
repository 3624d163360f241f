import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { EtcdCluster, loadCluster } from "../support/etcd-cluster.js";
import { S3Server } from "../support/s3-server.js";

/**
 * A scheduled backup overlapping a manual one: several backups of one label started together.
 * Each must land in its own folder (no shared .part, no manifest describing bytes it never saw)
 * and verify on its own.
 */
describe("concurrent backups of one label", () => {
  let cluster: EtcdCluster;
  let s3: S3Server;
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    [cluster, s3] = await Promise.all([EtcdCluster.start(), S3Server.start()]);
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    await loadCluster(cluster, { targetBytes: 4 * 1024 * 1024 });
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
  });
  after(async () => {
    await Promise.all([cluster?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  const stores = () => [
    { name: "local store", url: join(work, "store"), extra: [] as string[] },
    { name: "S3 (RGW)", url: `s3://${s3.bucket}/concurrent`, extra: ["--s3-endpoint", s3.endpoint] },
  ];

  for (const which of ["local store", "S3 (RGW)"]) {
    it(`4 backups started together into the ${which}: 4 distinct backups, each verified`, async () => {
      const store = stores().find((s) => s.name === which);
      assert.ok(store);
      const runs = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          runCli(
            [
              "backup",
              "--endpoints",
              // Different members too: snapshots of one revision differ byte-wise between members.
              cluster.endpoint(i % cluster.size),
              ...cluster.tlsFlags,
              "--to",
              store.url,
              "--name",
              "same",
              "-o",
              "json",
              ...store.extra,
            ],
            { env },
          ),
        ),
      );
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const results = runs.map((r) => JSON.parse(r.stdout) as { ref: string; snapshot: { sha256: string } });
      assert.equal(new Set(results.map((r) => r.ref)).size, 4, "four folders");
      const listed = await runCli(["list", "--from", store.url, "--label", "same", "-o", "json", ...store.extra], {
        env,
      });
      assert.equal(listed.code, 0, listed.stderr);
      const entries = JSON.parse(listed.stdout) as Array<{ ref: string; sha256: string }>;
      assert.deepEqual(entries.map((e) => e.ref).sort(), results.map((r) => r.ref).sort());
      for (const r of results) {
        assert.equal(
          entries.find((e) => e.ref === r.ref)?.sha256,
          r.snapshot.sha256,
          "each manifest describes its own bytes",
        );
        const v = await runCli(["verify", r.ref, ...store.extra], { env });
        assert.equal(v.code, 0, v.stdout + v.stderr);
      }
    });
  }
});
