// Benchmark: one KV.Txn at a time (a put of 1 KiB), as a chain's replay sends them, through grpc-js (the
// client every other call uses) and through TxnChannel (the replay's frames on Node's HTTP/2): wall time and
// this process's CPU per call. A 1-member etcd 3.4 with mutual TLS in BENCH_DIR (default /dev/shm, where a
// replay's scratch etcd goes when it fits; give a directory on disk to see the syncs).
//   BENCH_TXNS=20000 BENCH_DIR=/dev/shm node --import tsx bench/txn-calls.ts
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { etcdServices } from "../src/etcd/proto.js";
import { TxnChannel } from "../src/etcd/txn-channel.js";
import { LocalEtcdCluster } from "../src/localetcd/cluster.js";

const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const n = Number(process.env.BENCH_TXNS ?? 20_000);
const dir = await mkdtemp(join(process.env.BENCH_DIR ?? "/dev/shm", "hcpeb-bench-txn-"));
const value = Buffer.alloc(1024, 120);
const keyOf = (i: number) => Buffer.from(`bench/k${i % 10_000}`);

async function measure(label: string, call: (i: number) => Promise<unknown>): Promise<string> {
  for (let i = 0; i < 500; i++) await call(i); // warm-up
  const load = loadavg()[0] ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call(i);
  const wall = (performance.now() - t0) / n;
  const cpu = process.cpuUsage(cpu0);
  return `| ${label} | ${n} | ${wall.toFixed(3)} ms | ${((cpu.user + cpu.system) / 1000 / n).toFixed(3)} ms | ${load.toFixed(1)} |`;
}

const cluster = await LocalEtcdCluster.start({ members: 1, baseDir: dir });
const rows: string[] = [];
try {
  const tls = await cluster.tlsMaterial();
  const creds = grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
  const kv = new (etcdServices().KV)(cluster.endpoint(0).replace("https://", ""), creds, {
    "grpc.ssl_target_name_override": tls.serverName ?? "localhost",
  }) as unknown as {
    Txn(req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: unknown) => void): void;
  };
  const meta = new grpc.Metadata();
  rows.push(
    await measure(
      "grpc-js",
      (i) =>
        new Promise<void>((resolve, reject) =>
          kv.Txn(
            { success: [{ request_put: { key: keyOf(i), value } }], failure: [] },
            meta,
            { deadline: Date.now() + 120_000 },
            (err) => (err ? reject(err) : resolve()),
          ),
        ),
    ),
  );
  const channel = await TxnChannel.open(cluster.endpoint(0), tls);
  try {
    rows.push(await measure("TxnChannel", (i) => channel.txn([{ type: "put", key: keyOf(i), value }])));
  } finally {
    channel.close();
  }
} finally {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
const table = [
  `${cpus().length} cores, node ${process.version}, etcd in ${process.env.BENCH_DIR ?? "/dev/shm"}`,
  "| client | Txns (one at a time) | wall per Txn | this process's CPU per Txn | load average |",
  "| --- | --- | --- | --- | --- |",
  ...rows,
].join("\n");
process.stdout.write(`${table}\n`);
await mkdir(OUT, { recursive: true });
await writeFile(join(OUT, "txn-calls.md"), `${table}\n`);
