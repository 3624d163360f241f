// Benchmark: `backup --continuous` under a steady write load (issue 20): how far the newest committed segment
// trails etcd's head, the follower's peak RSS, and how long `restore local --at-revision` takes to replay what
// was written, against the time etcd took to apply it.
//   BENCH_RATE=2000 BENCH_SECONDS=120 BENCH_SEGMENT=10s node --import tsx bench/continuous.ts
// Load: 1 KiB values over 10,000 keys, one put per revision, paced to BENCH_RATE per second with up to 256 puts
// in flight. The follower and etcd (1 member, mutual TLS) run on the same machine as the writer.
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readChain } from "../src/continuous/chain.js";
import type { EtcdClient } from "../src/etcd/client.js";
import { readCatalog } from "../src/store/catalog.js";
import { openStore } from "../src/store/open-store.js";
import { runCli, spawnCli } from "../test/support/cli.js";
import { EtcdCluster } from "../test/support/etcd-cluster.js";

const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const rate = Number(process.env.BENCH_RATE ?? 2000);
const seconds = Number(process.env.BENCH_SECONDS ?? 120);
const segment = process.env.BENCH_SEGMENT ?? "10s";
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-continuous";

/** VmRSS and VmHWM of a process, MiB (undefined once it has exited). */
function rssOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** Puts at `rate` per second for `seconds`, at most `inFlight` outstanding; returns the head revision over time. */
async function writeLoad(
  client: EtcdClient,
  onSecond: (revision: number) => void,
): Promise<{ writes: number; tookS: number; last: number }> {
  const value = Buffer.alloc(1024, 0x61);
  const inFlight = 256;
  const start = Date.now();
  let writes = 0;
  let last = 0;
  let outstanding = 0;
  let failed: unknown;
  let nextSecond = start + 1000;
  while (Date.now() - start < seconds * 1000 && failed === undefined) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    while (writes < due && outstanding < inFlight) {
      outstanding++;
      const i = writes++;
      client.put(`bench/k${i % 10_000}`, value).then(
        (rev) => {
          outstanding--;
          if (rev > last) last = rev;
        },
        (err: unknown) => {
          outstanding--;
          failed = err;
        },
      );
    }
    if (Date.now() >= nextSecond) {
      onSecond(last);
      nextSecond += 1000;
    }
    // Pacing of the load generator (1 ms ticks), not a wait for an outcome.
    await new Promise((r) => setTimeout(r, 1));
  }
  while (outstanding > 0) await new Promise((r) => setTimeout(r, 5));
  if (failed !== undefined) throw failed;
  return { writes, tookS: (Date.now() - start) / 1000, last };
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const storeDir = join(work, "store");
  await mkdir(storeDir);
  const cluster = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  const client = await cluster.client(0);
  const load0 = loadavg()[0] ?? 0;
  try {
    await client.put("bench/start", "1");
    const follower = spawnCli(
      [
        "backup",
        "--endpoints",
        cluster.endpoint(0),
        ...cluster.tlsFlags,
        "--to",
        storeDir,
        "--name",
        "bench",
        "--continuous",
        "--segment",
        segment,
        // BENCH_FULL_EVERY=10s: new chains under the load (their base taken while the old chain goes on).
        ...(process.env.BENCH_FULL_EVERY ? ["--full-every", process.env.BENCH_FULL_EVERY] : []),
        "--log-level",
        "info",
      ],
      { asInstalled: true },
    );
    const pid = follower.child.pid as number;
    // The follower's full backup first: the load starts once it follows the watch.
    await follower.waitForLine(/following etcd's watch/);
    const store = openStore(storeDir);
    let peakRss = 0;
    const sampler = setInterval(() => {
      const r = rssOf(pid);
      if (r) peakRss = Math.max(peakRss, r.hwm);
    }, 250);
    // Lag: when etcd's head first reached each revision, and when the chain first covered it.
    const headAt: Array<{ at: number; revision: number }> = [];
    let maxLagS = 0;
    const lagPoll = setInterval(async () => {
      try {
        // Every chain of the label (--full-every makes new ones): the furthest any covers.
        let covered = 0;
        for (const b of (await readCatalog(store, { label: "bench" })).backups)
          covered = Math.max(covered, (await readChain(store, b.folder, b.manifest.snapshot.revision)).contiguousTo);
        // The oldest head sample the chain does not cover yet: how long it has waited.
        const waiting = headAt.find((h) => h.revision > covered);
        if (waiting) maxLagS = Math.max(maxLagS, (Date.now() - waiting.at) / 1000);
      } catch {
        // a record being written: next poll
      }
    }, 500);
    const load = await writeLoad(client, (revision) => headAt.push({ at: Date.now(), revision }));
    follower.child.kill("SIGTERM");
    await follower.exited;
    clearInterval(sampler);
    clearInterval(lagPoll);
    const b = (await readCatalog(store, { label: "bench" })).backups[0];
    if (!b) throw new Error("no backup in the store");
    const chain = await readChain(store, b.folder, b.manifest.snapshot.revision);
    // BENCH_SCRATCH=default,disk,/dev/shm: the same chain replayed once per place for the scratch etcd.
    // "default" gives no --scratch-dir (the scratch etcd's WAL on /dev/shm when it has room, the rest in
    // the temp dir: the bench's own directory); "disk" gives that directory as --scratch-dir (everything on
    // disk); a path gives that path (a tmpfs has no disk syncs).
    const header =
      "| load | --segment | segments | max lag of the newest committed segment | follower peak RSS | restore --at-revision (replay + restore) | vs apply time | replay scratch | load average (start / end) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |";
    const rows: string[] = [];
    for (const [i, scratch] of (process.env.BENCH_SCRATCH ?? "default").split(",").entries()) {
      const loadBefore = loadavg()[0] ?? 0;
      const replayStart = Date.now();
      const restored = await runCli(
        [
          "restore",
          "local",
          join(storeDir, b.folder),
          "--data-dir",
          join(work, `restored-${i}`),
          "--at-revision",
          String(chain.contiguousTo),
          ...(scratch === "default" ? [] : ["--scratch-dir", scratch === "disk" ? work : scratch]),
        ],
        { timeoutMs: 3_600_000, env: { TMPDIR: work } },
      );
      const replayS = (Date.now() - replayStart) / 1000;
      if (restored.code !== 0) throw new Error(`restore failed: ${restored.stderr}`);
      rows.push(
        `| ${rate}/s x ${seconds} s (${load.writes} puts, achieved ${(load.writes / load.tookS).toFixed(0)}/s) | ${segment} | ` +
          `${chain.records.length} | ${maxLagS.toFixed(1)} s | ${peakRss.toFixed(0)} MiB | ${replayS.toFixed(1)} s | ` +
          `${(replayS / load.tookS).toFixed(2)}x | ${scratch} | ${(i === 0 ? load0 : loadBefore).toFixed(1)} / ${(loadavg()[0] ?? 0).toFixed(1)} |`,
      );
      await rm(join(work, `restored-${i}`), { recursive: true, force: true });
    }
    process.stdout.write(
      `${cpus().length} cores, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, node ${process.version}\n`,
    );
    process.stdout.write(`${header}\n${rows.join("\n")}\n`);
    await writeFile(join(OUT, "continuous.md"), `${header}\n${rows.join("\n")}\n`);
  } finally {
    client.close();
    await cluster.stop();
    if (process.env.BENCH_KEEP !== "1") await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
