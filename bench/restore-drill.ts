// Benchmark: `hcp-etcd-backup verify <ref> --restore-drill` of a ~1 GiB backup in a local store, against the same
// by hand (etcdctl snapshot restore + start etcd + wait for health + count keys with etcdctl + stop), same run.
// Wall time and peak RSS from GNU `time -v`; our own process's peak (VmHWM) sampled apart, because time's figure
// is the largest of the process tree, i.e. the etcd that serves the restore. The source is compacted after each
// load and written a little after (BENCH_TAIL_WRITES overwrites, default 200), as kube-apiserver keeps a hosted
// cluster's etcd: the drill's HashKV proof then takes its compacted path.
//   BENCH_SIZES_MIB=1024 BENCH_RUNS=1 node --import tsx bench/restore-drill.ts
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "../src/localetcd/ports.js";
import { runCli } from "../test/support/cli.js";
import { EtcdCluster } from "../test/support/etcd-cluster.js";
import { byHandScript, loadBenchData, median } from "./measure.js";
import { type TimeV, timeV } from "./time-v.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const sizes = (process.env.BENCH_SIZES_MIB ?? "1024").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 1);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-drill";
const tailWrites = Number(process.env.BENCH_TAIL_WRITES ?? 200);
const loadAverage = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");

/** The drill by hand: restore, start etcd on it, wait for health, count the keys, stop, remove. */
function manualScript(snapshot: string, dir: string, client: number, peer: number): string {
  return byHandScript(snapshot, dir, { client, peer }, (url) => [
    // etcdctl's default 5 s command timeout is shorter than a keys-only Range of 1 GiB on a loaded machine.
    `etcdctl --endpoints ${url} --command-timeout=300s get "" --prefix --keys-only | grep -c .`,
  ]);
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const rows: string[] = [];
  const source = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  try {
    let loaded = 0;
    for (const mib of sizes) {
      const client = await source.client(0);
      try {
        await loadBenchData(client, mib, { fromMiB: loaded, seed: mib });
        loaded = mib;
        const page = await client.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), limit: tailWrites });
        await client.compact(page.revision);
        for (const kv of page.kvs) await client.put(kv.key, `overwritten after the compaction ${kv.modRevision}`);
      } finally {
        client.close();
      }
      const store = join(work, `store-${mib}`);
      const b = await runCli(
        [
          "backup",
          "--endpoints",
          source.endpoint(0),
          ...source.tlsFlags,
          "--to",
          store,
          "--name",
          "bench",
          "-o",
          "json",
        ],
        { timeoutMs: 600_000 },
      );
      if (b.code !== 0) throw new Error(`backup failed: ${b.stderr}`);
      const out = JSON.parse(b.stdout) as { ref: string; snapshot: { dbSize: number } };
      const snapshot = join(out.ref, "snapshot.db");
      const ours: TimeV[] = [];
      const manual: TimeV[] = [];
      let keys = "";
      let proof = "";
      const loads: string[] = [];
      for (let i = 0; i < runs; i++) {
        // Interleaved, so page-cache state and machine noise hit both alike.
        loads.push(await loadAverage());
        const o = await timeV(CLI, ["verify", out.ref, "--restore-drill", "--scratch-dir", work, "-o", "json"]);
        ours.push(o);
        const drill = JSON.parse(o.stdout) as {
          ok: boolean;
          proof?: { method: string };
          verification: { detail: string };
          phases: Record<string, number>;
        };
        if (!drill.ok) throw new Error(`the drill failed: ${o.stdout}`);
        proof = drill.proof?.method ?? "?";
        const served = /served (\d+) live keys/.exec(drill.verification.detail)?.[1];
        const phases = Object.entries(drill.phases)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(", ");
        const [c, p] = (await freePorts(2)) as [number, number];
        const script = join(work, "manual.sh");
        await writeFile(script, manualScript(snapshot, join(work, "manual-data"), c, p));
        const m = await timeV("sh", [script], { ...process.env, ETCDCTL_API: "3" });
        manual.push(m);
        keys = `${served} (etcdctl: ${m.stdout.trim()})`;
        process.stderr.write(
          `run ${i + 1}: ours ${o.seconds.toFixed(2)} s (${proof}: ${phases}), own peak ${o.ownRssMiB.toFixed(0)} MiB, manual ${m.seconds.toFixed(2)} s, keys ${keys}, load ${loads.at(-1)}\n`,
        );
      }
      const med = (xs: TimeV[], f: (t: TimeV) => number) => median(xs.map(f));
      const o = med(ours, (t) => t.seconds);
      const m = med(manual, (t) => t.seconds);
      rows.push(
        `| ${(out.snapshot.dbSize / 1024 ** 3).toFixed(2)} GiB | ${keys} | ${proof} | ${loads.join("; ")} | ${runs} | ${o.toFixed(2)} s | ${m.toFixed(2)} s | ${(o / m).toFixed(2)}x | ${med(ours, (t) => t.ownRssMiB).toFixed(0)} MiB | ${med(ours, (t) => t.treeRssMiB).toFixed(0)} MiB | ${med(manual, (t) => t.treeRssMiB).toFixed(0)} MiB |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  } finally {
    await source.stop();
  }
  const kernel = (await readFile("/proc/version", "utf8")).split(" ")[2];
  const header = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, kernel ${kernel}, etcd/etcdctl 3.4.23 (Debian).`,
    `Backup: a 1-member etcd loaded with values of 1-32 KiB, compacted, ${tailWrites} keys overwritten after, backed up into a local store. ${runs} run(s) of each, interleaved.`,
    "",
    "| backup db | live keys | proof | load average | runs | verify --restore-drill | by hand (restore + start + count) | ratio | our peak RSS | peak RSS of the tree (etcd) | by hand: peak RSS (etcd) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  await writeFile(join(OUT, "restore-drill.md"), `${[...header, ...rows].join("\n")}\n`);
  if (process.env.BENCH_KEEP !== "1") await rm(work, { recursive: true, force: true });
}

await main();
