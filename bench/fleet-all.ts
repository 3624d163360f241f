// Benchmark: `backup --all` of 8 hosted clusters, each on its own single-member etcd holding ~100 MiB,
// through the Kubernetes API simulator (quiesced, the default mode; etcd reached by port-forward), with
// --parallel 1, 2 and 4: total wall time and the CLI's peak RSS (GNU time). Then `list --fleet` over a
// local store of 1,000 manifests of 50 clusters.
//   BENCH_CLUSTERS=8 BENCH_SIZE_MIB=100 node --import tsx bench/fleet-all.ts
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFleetLab } from "../test/support/fleet-lab.js";
import { type FakeBackup, writeLocalBackups } from "../test/support/fleet-manifests.js";
import { measure, type Sample } from "./measure.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const clusters = Number(process.env.BENCH_CLUSTERS ?? 8);
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 100);
const settings = (process.env.BENCH_PARALLEL ?? "1,2,4").split(",").map(Number);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-fleet";

interface Facts {
  snapshot: { objectSize: number };
  writerDowntime?: { seconds: number };
  timings: { totalSeconds: number };
}

async function manifests(store: string): Promise<Facts[]> {
  const out: Facts[] = [];
  for (const name of await readdir(join(store, "clusters"))) {
    for (const id of await readdir(join(store, "clusters", name)))
      out.push(JSON.parse(await readFile(join(store, "clusters", name, id, "manifest.json"), "utf8")) as Facts);
  }
  return out;
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const specs = Array.from({ length: clusters }, (_, i) => ({ namespace: "clusters", name: `fleet-${i}` }));
  const t0 = Date.now();
  const lab = await startFleetLab(specs, {
    dataBytes: sizeMiB * 1024 * 1024,
    baseDir: work,
    load: { valueSize: [1024, 32768], concurrency: 32 },
  });
  process.stderr.write(
    `${clusters} etcds with ${sizeMiB} MiB each ready in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`,
  );
  const rows: string[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  try {
    let dbBytes = 0;
    for (const e of lab.etcds.values()) dbBytes += (await e.statuses())[0]?.dbSize ?? 0;
    for (const parallel of settings) {
      const store = join(work, `store-p${parallel}`);
      const args = ["backup", "--all", "-n", "clusters", "--kubeconfig", lab.kubeconfig, "--to", store, "--no-key"];
      const s: Sample = await measure(CLI, [...args, "--parallel", String(parallel)]);
      const facts = await manifests(store);
      if (facts.length !== clusters)
        throw new Error(`expected ${clusters} backups with --parallel ${parallel}, found ${facts.length}`);
      const bytes = facts.reduce((a, f) => a + f.snapshot.objectSize, 0);
      const perCluster = facts.map((f) => f.timings.totalSeconds).sort((a, b) => a - b);
      const downtimes = facts.map((f) => f.writerDowntime?.seconds ?? 0).sort((a, b) => a - b);
      rows.push(
        `| ${parallel} | ${s.seconds.toFixed(1)} s | ${(bytes / 1048576 / s.seconds).toFixed(0)} MiB/s | ${s.maxRssMiB.toFixed(0)} MiB | ${s.cpuSeconds.toFixed(1)} s | ${perCluster[Math.floor(clusters / 2)]?.toFixed(1)} s | ${downtimes[Math.floor(clusters / 2)]?.toFixed(1)} s (max ${downtimes.at(-1)?.toFixed(1)} s) |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
      await rm(store, { recursive: true, force: true });
    }
    const header = [
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}; ${clusters} hosted clusters on the Kubernetes API simulator, each with its own single-member etcd 3.4.23 (mutual TLS) holding ${(dbBytes / clusters / 1048576).toFixed(0)} MiB (db size), ${(dbBytes / 1048576).toFixed(0)} MiB in all; quiesced (the default), etcd reached by port-forward through the simulator, local store. One run per setting. Load average (1 min) ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end (other sessions shared the machine).`,
      "",
      "| --parallel | wall time (all clusters) | throughput | peak RSS of the CLI | CPU (user+sys) | per-cluster backup (median) | writer downtime per cluster (median) |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    ];
    // list --fleet over 1,000 manifests of 50 clusters.
    const fleetStore = join(work, "fleet-store");
    const now = Date.now();
    const fake: FakeBackup[] = [];
    for (let c = 0; c < 50; c++)
      for (let k = 0; k < 20; k++)
        fake.push({
          namespace: "clusters",
          name: `hc-${c}`,
          createdAt: new Date(now - (k * 6 + 1) * 3_600_000),
          size: (64 << 20) + k * 4096,
        });
    await writeLocalBackups(fleetStore, fake);
    const list = await measure(CLI, ["list", "--fleet", "--from", fleetStore, "-o", "json"]);
    const listLine = `\`list --fleet\` over 1,000 manifests of 50 clusters (local store, 16 reads in flight): ${list.seconds.toFixed(2)} s wall (Node start included), peak RSS ${list.maxRssMiB.toFixed(0)} MiB.`;
    const text = [...header, ...rows, "", listLine].join("\n");
    await writeFile(join(OUT, "fleet-all.md"), `${text}\n`);
    process.stderr.write(`${text}\n`);
  } finally {
    await lab.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
