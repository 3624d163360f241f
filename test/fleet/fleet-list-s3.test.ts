import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readCatalog } from "../../src/store/catalog.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { runCli } from "../support/cli.js";
import { type FakeBackup, putBackups } from "../support/fleet-manifests.js";
import { S3Server } from "../support/s3-server.js";

const H = 3_600_000;

describe("list --fleet from S3 (Ceph RGW): manifests read concurrently, at most 16 at once", () => {
  let s3: S3Server;
  let store: Store;
  let env: NodeJS.ProcessEnv;
  const now = Date.now();

  before(async () => {
    s3 = await S3Server.start();
    env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
    store = openStore(`s3://${s3.bucket}/fleet`, {
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    // 10 clusters x 12 backups, 4 h apart; hc-9's newest is 30 h old.
    const backups: FakeBackup[] = [];
    for (let c = 0; c < 10; c++)
      for (let k = 0; k < 12; k++)
        backups.push({
          namespace: "clusters",
          name: `hc-${c}`,
          createdAt: new Date(now - (c === 9 ? 30 * H : H) - k * 4 * H),
          size: (32 << 20) + (12 - k) * 8192,
        });
    await putBackups(store, backups);
  });
  after(async () => {
    await s3?.stop();
  });

  it("the catalog keeps 16 manifest reads in flight, never more", async () => {
    let inFlight = 0;
    let peak = 0;
    const counting: Store = Object.assign(Object.create(store) as Store, {
      async read(key: string, options?: { signal?: AbortSignal }) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          return await store.read(key, options);
        } finally {
          inFlight--;
        }
      },
    });
    const catalog = await readCatalog(counting);
    assert.equal(catalog.backups.length, 120);
    assert.deepEqual(catalog.broken, []);
    assert.equal(peak, 16);
  });

  it("the built CLI: one row per cluster, the stale one named, exit 1", async () => {
    const r = await runCli(
      ["list", "--fleet", "--from", `s3://${s3.bucket}/fleet`, "--s3-endpoint", s3.endpoint, "-o", "json"],
      { env },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^hcp-etcd-backup: 9 of 10 clusters ok; 1 stale\n$/);
    const rows = JSON.parse(r.stdout) as Array<{
      label: string;
      status: string;
      backups: number;
      size: number;
      previousSize: number;
      lastBackup: { ref: string };
    }>;
    assert.deepEqual(
      rows.map((x) => [x.label, x.status, x.backups]),
      Array.from({ length: 10 }, (_, c) => [`clusters/hc-${c}`, c === 9 ? "stale" : "ok", 12]),
    );
    for (const x of rows) {
      assert.equal(x.size - x.previousSize, 8192);
      assert.match(
        x.lastBackup.ref,
        new RegExp(`^s3://${s3.bucket}/fleet/${x.label}/\\d{8}T\\d{6}Z-r\\d+-[0-9a-f]{6}$`),
      );
    }
  });
});
