// Benchmark: `hcp-etcd-backup backup` of a >= 1 GiB etcd into Ceph RGW (bluestore OSD) against the documented
// manual pipeline (etcdctl snapshot save + etcdctl snapshot status + aws s3 cp) and against `etcdctl snapshot save`
// to local disk alone, measured in the same run, interleaved. Peak RSS of our process at each size.
//   BENCH_SIZES_MIB=1024,4096 BENCH_RUNS=3 node --import tsx bench/backup.ts
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeleteObjectsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { EtcdCluster } from "../test/support/etcd-cluster.js";
import { S3Server } from "../test/support/s3-server.js";
import { cpuOf, loadBenchData, measure, median, type Sample } from "./measure.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const sizes = (process.env.BENCH_SIZES_MIB ?? "1024,4096").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-backup";

type Transport = "https" | "http";

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  // Production S3 (AWS, ODF) is HTTPS; plain HTTP is measured too because the tool then signs every
  // part's SHA-256 (see src/store/s3-client.ts).
  const servers: Record<Transport, S3Server> = {
    https: await S3Server.start({ objectStore: "bluestore", capacityBytes: 40 * 1024 ** 3, baseDir: work, tls: true }),
    http: await S3Server.start({ objectStore: "bluestore", capacityBytes: 40 * 1024 ** 3, baseDir: work }),
  };
  const cluster = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  const rows: string[] = [];
  const cpuRows: string[] = [];
  try {
    const etcdFlags = [`--endpoints=${cluster.endpoint(0)}`, ...cluster.tlsFlags];
    const envOf = (s3: S3Server) => ({
      ...process.env,
      ETCDCTL_API: "3",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
      AWS_REGION: s3.region,
    });
    const snap = join(work, "manual.db");
    const manual = (s3: S3Server) =>
      [
        `etcdctl ${etcdFlags.join(" ")} snapshot save ${snap} >/dev/null`,
        `etcdctl snapshot status ${snap} -w json >/dev/null`,
        `/usr/bin/aws --endpoint-url ${s3.endpoint} ${s3.caBundle ? `--ca-bundle ${s3.caBundle}` : ""} s3 cp ${snap} s3://${s3.bucket}/manual/snapshot.db --no-progress >/dev/null`,
        `rm -f ${snap}`,
      ].join(" && ");
    // The installed command, as users run it (its shebang carries the V8 flags, see src/cli/main.ts).
    const ours = (s3: S3Server) => [
      "backup",
      ...etcdFlags,
      "--to",
      `s3://${s3.bucket}/ours`,
      "--name",
      "bench",
      "--s3-endpoint",
      s3.endpoint,
      ...(s3.caBundle ? ["--s3-ca-bundle", s3.caBundle] : []),
    ];
    let loaded = 0;
    const client = await cluster.client(0);
    try {
      for (const mib of sizes) {
        await loadBenchData(client, mib, { fromMiB: loaded, seed: mib });
        loaded = mib;
        const samples = new Map<string, Sample[]>();
        // CPU the daemons spent during each command: etcd serving the snapshot, Ceph (mon, OSD, RGW) ingesting it.
        const daemonCpu = new Map<string, Array<{ etcd: number; ceph: number }>>();
        const etcdPids = [cluster.pid(0)].filter((p): p is number => p !== undefined);
        const cephPids = [...servers.https.pids, ...servers.http.pids];
        const add = async (k: string, run: () => Promise<Sample>) => {
          const e0 = cpuOf(etcdPids);
          const c0 = cpuOf(cephPids);
          const sample = await run();
          samples.set(k, [...(samples.get(k) ?? []), sample]);
          const d = { etcd: cpuOf(etcdPids) - e0, ceph: cpuOf(cephPids) - c0 };
          daemonCpu.set(k, [...(daemonCpu.get(k) ?? []), d]);
        };
        for (let i = 0; i < runs; i++) {
          for (const t of ["https", "http"] as const) {
            const s3 = servers[t];
            await add(`ours-${t}`, () => measure(CLI, ours(s3), envOf(s3)));
            await add(`manual-${t}`, () => measure("bash", ["-c", manual(s3)], envOf(s3)));
            await emptyBucket(s3);
          }
          await add("local", () =>
            measure(CLI, ["backup", ...etcdFlags, "--to", join(work, "local-store"), "--name", "bench"]),
          );
          await rm(join(work, "local-store"), { recursive: true, force: true });
          await add("save", () => measure("etcdctl", [...etcdFlags, "snapshot", "save", snap], envOf(servers.http)));
          await rm(snap, { force: true });
        }
        const m = (k: string, f: (s: Sample) => number = (s) => s.seconds) => median((samples.get(k) ?? []).map(f));
        const save = m("save");
        const local = m("local");
        const status = await cluster.statuses();
        const size = `${((status[0]?.dbSize ?? 0) / 1024 ** 3).toFixed(2)} GiB`;
        for (const t of ["https", "http"] as const) {
          const o = m(`ours-${t}`);
          const man = m(`manual-${t}`);
          rows.push(
            `| ${size} | ${t} | ${runs} | ${o.toFixed(2)} s | ${man.toFixed(2)} s | ${(o / man).toFixed(2)}x | ${save.toFixed(2)} s | ${(o / save).toFixed(2)}x | ${local.toFixed(2)} s (${(local / save).toFixed(2)}x) | ${m(`ours-${t}`, (s) => s.maxRssMiB).toFixed(0)} MiB |`,
          );
          process.stderr.write(`${rows.at(-1)}\n`);
        }
        for (const k of ["ours-https", "manual-https", "ours-http", "manual-http", "local", "save"]) {
          const d = (f: (x: { etcd: number; ceph: number }) => number) => median((daemonCpu.get(k) ?? []).map(f));
          const wall = m(k);
          const cmd = m(k, (s) => s.cpuSeconds);
          const total = cmd + d((x) => x.etcd) + d((x) => x.ceph);
          cpuRows.push(
            `| ${size} | ${k} | ${wall.toFixed(2)} s | ${cmd.toFixed(1)} s | ${d((x) => x.etcd).toFixed(1)} s | ${d((x) => x.ceph).toFixed(1)} s | ${total.toFixed(1)} s | ${((100 * total) / (cpus().length * wall)).toFixed(0)}% |`,
          );
        }
      }
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    await servers.https.stop();
    await servers.http.stop();
    await rm(work, { recursive: true, force: true });
  }
  const header = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}; etcd/etcdctl 3.4.23, Ceph RGW 16 (bluestore OSD on a sparse file), awscli 2.9.19 (Debian).`,
    `1-member etcd with mutual TLS loaded with values of 1-32 KiB. Medians of ${runs} interleaved runs; the bucket is emptied and RGW's GC run between runs.`,
    "",
    "| etcd db | S3 transport | runs | hcp-etcd-backup backup -> RGW | manual: save + status + aws s3 cp | ratio | etcdctl snapshot save (local disk) | ratio | hcp-etcd-backup backup -> local dir (ratio to save) | our peak RSS (-> RGW) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const cpuHeader = [
    "",
    "CPU seconds (user + system, medians) per command: the command itself with its children, etcd while serving the snapshot, Ceph (mon + OSD + RGW); load = total / (cores x wall).",
    "",
    "| etcd db | command | wall | command CPU | etcd CPU | Ceph CPU | total CPU | load |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  await writeFile(join(OUT, "backup.md"), `${[...header, ...rows, ...cpuHeader, ...cpuRows].join("\n")}\n`);
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
