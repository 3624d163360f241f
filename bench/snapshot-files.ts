// Benchmark: `snapshot status` and `snapshot verify` on real etcd snapshots of >= 1 GiB, against
// `etcdctl snapshot status` on the same file in the same run. Wall time and peak RSS via GNU time.
//   BENCH_SIZES_MIB=1024,2048 BENCH_RUNS=3 node --import tsx bench/snapshot-files.ts
import { execFile } from "node:child_process";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EtcdCluster } from "../test/support/etcd-cluster.js";
import { loadBenchData, measure, median, type Sample } from "./measure.js";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const sizes = (process.env.BENCH_SIZES_MIB ?? "1024,2048").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench";

async function makeSnapshot(mib: number): Promise<string> {
  const file = join(work, `snapshot-${mib}MiB.db`);
  if (
    await stat(file).then(
      () => true,
      () => false,
    )
  )
    return file;
  const cluster = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  try {
    const client = await cluster.client(0);
    try {
      await loadBenchData(client, mib);
    } finally {
      client.close();
    }
    await run("etcdctl", [`--endpoints=${cluster.endpoint(0)}`, ...cluster.tlsFlags, "snapshot", "save", file], {
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    return file;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const rows: string[] = [];
  for (const mib of sizes) {
    const file = await makeSnapshot(mib);
    const size = (await stat(file)).size;
    const samples: Record<string, Sample[]> = { etcdctl: [], status: [], verify: [] };
    const etcdEnv = { ...process.env, ETCDCTL_API: "3" };
    for (let i = 0; i < runs; i++) {
      // Interleaved, so page-cache state and machine noise hit all three alike.
      samples.etcdctl?.push(await measure("etcdctl", ["snapshot", "status", file, "-w", "json"], etcdEnv));
      samples.status?.push(await measure(process.execPath, [CLI, "snapshot", "status", file, "-w", "json"]));
      samples.verify?.push(await measure(process.execPath, [CLI, "snapshot", "verify", file, "-o", "json"]));
    }
    const med = (k: string, f: (s: Sample) => number) => median((samples[k] ?? []).map(f));
    const e = med("etcdctl", (s) => s.seconds);
    const s = med("status", (x) => x.seconds);
    const v = med("verify", (x) => x.seconds);
    rows.push(
      `| ${(size / 1024 ** 3).toFixed(2)} GiB | ${runs} | ${e.toFixed(2)} s | ${s.toFixed(2)} s (${(s / e).toFixed(2)}x) | ${v.toFixed(2)} s (${(v / e).toFixed(2)}x) | ${med("etcdctl", (x) => x.maxRssMiB).toFixed(0)} MiB | ${med("status", (x) => x.maxRssMiB).toFixed(0)} MiB | ${med("verify", (x) => x.maxRssMiB).toFixed(0)} MiB |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
  const header = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, etcdctl 3.4.23 (Debian).`,
    `Files: real etcd snapshots (etcdctl snapshot save) of a 1-member etcd loaded with values of 1-32 KiB. Medians of ${runs} interleaved runs; warm page cache.`,
    "",
    "| snapshot | runs | etcdctl snapshot status | status (ratio) | verify (ratio) | etcdctl peak RSS | status peak RSS | verify peak RSS |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  await writeFile(join(OUT, "snapshot-files.md"), `${[...header, ...rows].join("\n")}\n`);
  if (process.env.BENCH_KEEP !== "1") await rm(work, { recursive: true, force: true });
}

await main();
