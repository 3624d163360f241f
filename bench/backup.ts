// Benchmark: `hcp-etcd-backup backup` of a >= 1 GiB etcd into Ceph RGW (bluestore OSD) against the documented
// manual pipeline (etcdctl snapshot save + etcdctl snapshot status + aws s3 cp) and against `etcdctl snapshot save`
// to local disk alone, measured in the same run, interleaved. Peak RSS of our process at each size.
//   BENCH_SIZES_MIB=1024,4096 BENCH_RUNS=3 node --import tsx bench/backup.ts
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { loadKubernetesData } from "../src/sandbox/data-loader.js";
import { EtcdCluster } from "../src/sandbox/etcd-cluster.js";
import { S3Server } from "../test/support/s3-server.js";
import { measure, median, type Sample } from "./measure.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const sizes = (process.env.BENCH_SIZES_MIB ?? "1024,4096").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-backup";

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const s3 = await S3Server.start({ objectStore: "bluestore", capacityBytes: 40 * 1024 ** 3, baseDir: work });
  const cluster = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  const rows: string[] = [];
  try {
    const etcdFlags = [`--endpoints=${cluster.endpoint(0)}`, ...cluster.tlsFlags];
    const env = {
      ...process.env,
      ETCDCTL_API: "3",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
      AWS_REGION: s3.region,
    };
    const snap = join(work, "manual.db");
    const manual = [
      `etcdctl ${etcdFlags.join(" ")} snapshot save ${snap} >/dev/null`,
      `etcdctl snapshot status ${snap} -w json >/dev/null`,
      `/usr/bin/aws --endpoint-url ${s3.endpoint} s3 cp ${snap} s3://${s3.bucket}/manual/snapshot.db --no-progress >/dev/null`,
      `rm -f ${snap}`,
    ].join(" && ");
    let loaded = 0;
    const client = await cluster.client(0);
    try {
      for (const mib of sizes) {
        const t0 = Date.now();
        await loadKubernetesData(client, {
          targetBytes: (mib - loaded) * 1024 * 1024,
          valueSize: [1024, 32768],
          concurrency: 32,
          seed: mib,
        });
        loaded = mib;
        process.stderr.write(`loaded to ${mib} MiB in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
        const samples: Record<"ours" | "local" | "manual" | "save", Sample[]> = {
          ours: [],
          local: [],
          manual: [],
          save: [],
        };
        for (let i = 0; i < runs; i++) {
          samples.ours.push(
            await measure(
              process.execPath,
              [
                CLI,
                "backup",
                ...etcdFlags,
                "--to",
                `s3://${s3.bucket}/ours`,
                "--name",
                "bench",
                "--s3-endpoint",
                s3.endpoint,
              ],
              env,
            ),
          );
          samples.local.push(
            await measure(
              process.execPath,
              [CLI, "backup", ...etcdFlags, "--to", join(work, "local-store"), "--name", "bench"],
              env,
            ),
          );
          await rm(join(work, "local-store"), { recursive: true, force: true });
          samples.manual.push(await measure("bash", ["-c", manual], env));
          samples.save.push(await measure("etcdctl", [...etcdFlags, "snapshot", "save", snap], env));
          await rm(snap, { force: true });
          await emptyBucket(s3);
        }
        const m = (k: keyof typeof samples, f: (s: Sample) => number) => median(samples[k].map(f));
        const ours = m("ours", (s) => s.seconds);
        const man = m("manual", (s) => s.seconds);
        const save = m("save", (s) => s.seconds);
        const local = m("local", (s) => s.seconds);
        const status = await cluster.statuses();
        rows.push(
          `| ${((status[0]?.dbSize ?? 0) / 1024 ** 3).toFixed(2)} GiB | ${runs} | ${ours.toFixed(2)} s | ${man.toFixed(2)} s | ${(ours / man).toFixed(2)}x | ${save.toFixed(2)} s | ${(ours / save).toFixed(2)}x | ${local.toFixed(2)} s (${(local / save).toFixed(2)}x) | ${m("ours", (s) => s.maxRssMiB).toFixed(0)} MiB |`,
        );
        process.stderr.write(`${rows.at(-1)}\n`);
      }
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  }
  const header = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}; etcd/etcdctl 3.4.23, Ceph RGW 16 (bluestore OSD on a sparse file), awscli 2.9.19 (Debian).`,
    `1-member etcd with mutual TLS loaded with values of 1-32 KiB. Medians of ${runs} interleaved runs; the bucket is emptied and RGW's GC run between runs.`,
    "",
    "| etcd db | runs | hcp-etcd-backup backup -> RGW | manual: save + status + aws s3 cp | ratio | etcdctl snapshot save (local disk) | ratio | hcp-etcd-backup backup -> local dir (ratio to save) | our peak RSS (-> RGW) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  await writeFile(join(OUT, "backup.md"), `${[...header, ...rows].join("\n")}\n`);
}

async function emptyBucket(s3: S3Server): Promise<void> {
  const client = s3.client();
  try {
    const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    const keys = (res.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: s3.bucket, Delete: { Objects: keys } }));
  } finally {
    client.destroy();
  }
  await s3.collectGarbage();
}

await main();
