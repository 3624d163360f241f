// Benchmark: reading objects out of a ~400 MB backup without a restore.
//  - `get` of one Secret (aescbc, opened with kube-apiserver's EncryptionConfiguration) vs the same by hand:
//    etcdctl snapshot restore + start etcd + wait for health + etcdctl get (not even charged for decoding).
//  - `get -A` of every Secret and `diff` without a resource: wall time and peak RSS (the stream's flat memory);
//    with BENCH_BASELINE_CLI=<dist/src/cli/main.js of an older build> the same commands of that build beside them.
//  - `verify` of the backup with and without the decryption proof (--key-file).
// Wall time and peak RSS from GNU `time -v`; the load average is recorded with every number (shared machine).
//   BENCH_OBJECTS_MIB=400 BENCH_RUNS=1 node --import tsx bench/objects.ts
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { aescbcKeyName } from "../src/hostedcluster/encryption-key.js";
import { freePorts } from "../src/localetcd/ports.js";
import { runCli } from "../test/support/cli.js";
import { EtcdCluster } from "../test/support/etcd-cluster.js";
import { encrypted, protobufValue } from "../test/support/kube-values.js";
import { byHandScript } from "./measure.js";
import { median, type TimeV, timeV } from "./time-v.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const targetMiB = Number(process.env.BENCH_OBJECTS_MIB ?? 400);
const runs = Number(process.env.BENCH_RUNS ?? 1);
const work = process.env.BENCH_DIR ?? "/var/tmp/hcpeb-bench-objects";
const baseline = process.env.BENCH_BASELINE_CLI;
const NAMESPACES = 100;
const TARGET = { namespace: "ns-7", name: "bench-target" };

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/**
 * Secrets (aescbc, as kube-apiserver writes them) and ConfigMaps (plain protobuf) of 2-8 KiB in 100
 * namespaces until the etcd holds `mib`, 32 puts in flight; then the one Secret `get` looks for.
 */
async function loadObjects(cluster: EtcdCluster, key: Buffer, mib: number): Promise<number> {
  const client = await cluster.client(0);
  let bytes = 0;
  let n = 0;
  const t0 = Date.now();
  const one = (i: number) => {
    const namespace = `ns-${i % NAMESPACES}`;
    const size = 2048 + ((i * 2654435761) % 6144);
    if (i % 2 === 0) {
      const name = `secret-${i}`;
      const plain = protobufValue("v1", "Secret", {
        metadata: { name, namespace, uid: `uid-${i}`, labels: { app: `app-${i % 50}` } },
        data: { token: randomBytes(size) },
        type: "Opaque",
      });
      return { key: `/kubernetes.io/secrets/${namespace}/${name}`, value: encrypted(key, plain) };
    }
    const name = `config-${i}`;
    const value = protobufValue("v1", "ConfigMap", {
      metadata: { name, namespace, uid: `uid-${i}` },
      data: { settings: randomBytes(size / 2).toString("hex") },
    });
    return { key: `/kubernetes.io/configmaps/${namespace}/${name}`, value };
  };
  try {
    while (bytes < mib * 1024 * 1024) {
      const batch = Array.from({ length: 32 }, () => one(n++));
      await Promise.all(batch.map((kv) => client.put(kv.key, kv.value)));
      bytes += batch.reduce((s, kv) => s + kv.key.length + kv.value.length, 0);
    }
    const plain = protobufValue("v1", "Secret", {
      metadata: { name: TARGET.name, namespace: TARGET.namespace, uid: "uid-target" },
      data: { password: Buffer.from("found-it") },
      type: "Opaque",
    });
    await client.put(`/kubernetes.io/secrets/${TARGET.namespace}/${TARGET.name}`, encrypted(key, plain));
  } finally {
    client.close();
  }
  process.stderr.write(`loaded ${n} objects (${(bytes / 1024 ** 2).toFixed(0)} MiB) in ${(Date.now() - t0) / 1000}s\n`);
  return n + 1;
}

/** `get` of one key by hand: restore, start etcd on it, wait for health, get the key, stop, remove. */
function manualGet(snapshot: string, dir: string, client: number, peer: number): string {
  return byHandScript(snapshot, dir, { client, peer }, (url) => [
    `etcdctl --endpoints ${url} get /kubernetes.io/secrets/${TARGET.namespace}/${TARGET.name} | wc -c`,
  ]);
}

/**
 * A CLI run whose (possibly huge) output goes to /dev/null: `exec` keeps the sampled process the CLI's.
 * The CLI runs as an installed one does, through its shebang and the V8 flag it sets.
 */
const quiet = (cli: string, args: string[]) => timeV("sh", ["-c", `exec "$0" "$@" >/dev/null`, cli, ...args]);

/**
 * The older build may not finish on a large snapshot (it held every value, then built the whole List
 * as one string): its failure is a row (seconds and peak RSS from `time -v`), not the end of the run.
 */
async function orFailure(t: Promise<TimeV>): Promise<TimeV> {
  try {
    return await t;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    const wall = /Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
    const seconds = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : Number.NaN;
    const peak = rss ? Number(rss[1]) / 1024 : Number.NaN;
    process.stderr.write(`  (failed: ${text.split("\n")[0]})\n`);
    return { seconds, treeRssMiB: peak, ownRssMiB: peak, stdout: "FAILED" };
  }
}

interface Row {
  readonly what: string;
  readonly t: TimeV;
  readonly load: string;
}

async function main(): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(OUT, { recursive: true });
  const key = randomBytes(32);
  const keyFile = join(work, "aescbc.key");
  await writeFile(keyFile, key, { mode: 0o600 });
  const config = join(work, "encryption-config.yaml");
  await writeFile(
    config,
    yaml.dump({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "EncryptionConfiguration",
      resources: [
        {
          resources: ["secrets"],
          providers: [
            { aescbc: { keys: [{ name: aescbcKeyName(key), secret: key.toString("base64") }] } },
            { identity: {} },
          ],
        },
      ],
    }),
    { mode: 0o600 },
  );
  const source = await EtcdCluster.start({ members: 1, quotaBytes: 8 * 1024 ** 3, baseDir: work });
  let ref: string;
  let dbSize: number;
  let objects: number;
  try {
    objects = await loadObjects(source, key, targetMiB);
    const b = await runCli(
      [
        "backup",
        "--endpoints",
        source.endpoint(0),
        ...source.tlsFlags,
        "--to",
        join(work, "store"),
        "--name",
        "bench",
        "-o",
        "json",
      ],
      { timeoutMs: 600_000 },
    );
    if (b.code !== 0) throw new Error(`backup failed: ${b.stderr}`);
    const out = JSON.parse(b.stdout) as { ref: string; snapshot: { dbSize: number } };
    ref = out.ref;
    dbSize = out.snapshot.dbSize;
  } finally {
    await source.stop();
  }
  const snapshot = join(ref, "snapshot.db");
  const rows: Row[] = [];
  const record = async (what: string, t: Promise<TimeV>) => {
    const l = load();
    const r = await t;
    rows.push({ what, t: r, load: l });
    process.stderr.write(`${what}: ${r.seconds.toFixed(2)} s, own peak ${r.ownRssMiB.toFixed(0)} MiB (load ${l})\n`);
    return r;
  };
  const getOne = ["get", snapshot, "secrets", TARGET.name, "-n", TARGET.namespace, "--encryption-config", config];
  const getAll = ["get", snapshot, "secrets", "-A", "--encryption-config", config, "-o", "json", "--scratch-dir", work];
  const diffAll = ["diff", snapshot, snapshot, "--encryption-config", config, "-o", "json", "--scratch-dir", work];
  for (let i = 0; i < runs; i++) {
    // Interleaved, so page-cache state and machine noise hit both alike.
    const g = await record("get one Secret (--encryption-config)", timeV(CLI, [...getOne, "-o", "json"]));
    if (!g.stdout.includes(Buffer.from("found-it").toString("base64"))) throw new Error(`get printed ${g.stdout}`);
    const [c, p] = (await freePorts(2)) as [number, number];
    const script = join(work, "manual.sh");
    await writeFile(script, manualGet(snapshot, join(work, "manual-data"), c, p));
    await record(
      "by hand: restore + start etcd + etcdctl get",
      timeV("sh", [script], { ...process.env, ETCDCTL_API: "3" }),
    );
    await record("get secrets -A (whole List to /dev/null)", quiet(CLI, getAll));
    if (baseline) await record("get secrets -A, older build (BENCH_BASELINE_CLI)", orFailure(quiet(baseline, getAll)));
    await record("diff <backup> <same backup>, no resource", quiet(CLI, diffAll));
    if (baseline) await record("diff, no resource, older build", orFailure(quiet(baseline, diffAll)));
    await record("verify (structure + checksums)", quiet(CLI, ["verify", ref, "-o", "json"]));
    await record(
      "verify --key-file (+ decryption proof)",
      quiet(CLI, ["verify", ref, "--key-file", keyFile, "-o", "json"]),
    );
  }
  const kernel = (await readFile("/proc/version", "utf8")).split(" ")[2];
  const lines = [
    `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, kernel ${kernel}, etcd/etcdctl 3.4.23 (Debian). Shared machine: the load average (1, 5, 15 min) is taken as each command starts.`,
    `Backup: ${(dbSize / 1024 ** 2).toFixed(0)} MiB snapshot, ${objects} objects (half Secrets encrypted with aescbc, half ConfigMaps, 2-8 KiB) in ${NAMESPACES} namespaces, in a local store. ${runs} run(s) of each, interleaved; single runs are single measurements, not medians.`,
    "",
    "| command | wall | own peak RSS | peak RSS of the tree | load average |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.t.stdout === "FAILED" ? "FAILED" : `${r.t.seconds.toFixed(2)} s`} | ${r.t.ownRssMiB.toFixed(0)} MiB | ${r.t.treeRssMiB.toFixed(0)} MiB | ${r.load} |`,
    ),
  ];
  const by = (what: string) => median(rows.filter((r) => r.what === what).map((r) => r.t.seconds));
  const ratio = (a: string, b: string) => (by(a) / by(b)).toFixed(2);
  lines.push(
    "",
    `get one Secret / by hand: ${ratio("get one Secret (--encryption-config)", "by hand: restore + start etcd + etcdctl get")}x; verify with the proof / without: ${ratio("verify --key-file (+ decryption proof)", "verify (structure + checksums)")}x.`,
  );
  await writeFile(join(OUT, "objects.md"), `${lines.join("\n")}\n`);
  process.stdout.write(`${lines.join("\n")}\n`);
  if (process.env.BENCH_KEEP !== "1") await rm(work, { recursive: true, force: true });
}

await main();
