// Benchmark: start-up. `hcp-etcd-backup --version` and `snapshot status` of a small file (a 0.9 MiB
// fixture) against a bare `node -e 0`, each run N times interleaved, median wall time of the whole
// process (spawn to exit) measured here with performance.now(). With dist/bin/hcp-etcd-backup built
// (`make dist`), the single executable too.
//   BENCH_RUNS=21 node --import tsx bench/startup.ts
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./measure.js";

const CLI = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
const OUT = fileURLToPath(new URL("./results/", import.meta.url));
const SNAPSHOT = fileURLToPath(new URL("../test/fixtures/bbolt-page-sizes/db_16384_fl.db", import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 21);

const SEA = fileURLToPath(new URL("../dist/bin/hcp-etcd-backup", import.meta.url));

// The CLI as a user runs it: through its shebang (which adds --max-semi-space-size).
const cases: Record<string, [string, string[]]> = {
  "node -e 0": [process.execPath, ["-e", "0"]],
  "--version": [CLI, ["--version"]],
  "snapshot status (0.9 MiB file)": [CLI, ["snapshot", "status", SNAPSHOT, "-w", "json"]],
};
// The single executable, when `make dist` has built it, against the same CLI started as `node dist/...`.
if (existsSync(SEA)) {
  cases["node dist/src/cli/main.js --version"] = [process.execPath, ["--max-semi-space-size=4", CLI, "--version"]];
  cases["single executable --version"] = [SEA, ["--version"]];
  cases["single executable snapshot status"] = [SEA, ["snapshot", "status", SNAPSHOT, "-w", "json"]];
}

function once(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  return (performance.now() - t) / 1000;
}

const times = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
for (const [cmd, args] of Object.values(cases)) once(cmd, args); // warm the page cache
for (let i = 0; i < runs; i++)
  for (const [name, [cmd, args]] of Object.entries(cases)) times.get(name)?.push(once(cmd, args));

const base = median(times.get("node -e 0") ?? []);
const rows = [...times].map(([name, ts]) => {
  const m = median(ts);
  return `| ${name} | ${runs} | ${(m * 1000).toFixed(0)} ms | ${(m / base).toFixed(2)}x |`;
});
const table = [
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, Node ${process.version}. ${runs} runs of each, interleaved; median.`,
  "",
  "| command | runs | median wall time | vs node -e 0 |",
  "| --- | --- | --- | --- |",
  ...rows,
].join("\n");
process.stderr.write(`${table}\n`);
await mkdir(OUT, { recursive: true });
await writeFile(join(OUT, "startup.md"), `${table}\n`);
