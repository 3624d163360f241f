import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { type LoadResult, loadKubernetesData } from "../src/demo/sample-data.js";
import type { EtcdClient } from "../src/etcd/client.js";

const run = promisify(execFile);

export interface Sample {
  readonly seconds: number;
  readonly maxRssMiB: number;
  /** User + system CPU seconds of the command and the children it waited for. */
  readonly cpuSeconds: number;
}

/** Runs a command under GNU time: wall seconds and peak RSS. Output goes to /dev/null-equivalent capture. */
export async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  const { stderr } = await run("/usr/bin/time", ["-f", "HCPEB_TIME %e %M %U %S", cmd, ...args], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /HCPEB_TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time for ${cmd}: ${stderr.slice(-300)}`);
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024, cpuSeconds: Number(m[3]) + Number(m[4]) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** CPU seconds (user + system) used so far by running processes, from /proc/<pid>/stat. */
export function cpuOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * Grows a benchmark's etcd from `fromMiB` to `toMiB` with Kubernetes-like objects of 1-32 KiB (a busy
 * cluster's secrets, configmaps and CRs), 32 puts in flight; logs how long it took.
 */
export async function loadBenchData(
  client: EtcdClient,
  toMiB: number,
  options: { fromMiB?: number; seed?: number } = {},
): Promise<LoadResult> {
  const t0 = Date.now();
  const r = await loadKubernetesData(client, {
    targetBytes: (toMiB - (options.fromMiB ?? 0)) * 1024 * 1024,
    valueSize: [1024, 32768],
    concurrency: 32,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  process.stderr.write(`loaded to ${toMiB} MiB (${r.keys} keys) in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
  return r;
}

/**
 * A shell script doing by hand what a command is measured against: `etcdctl snapshot restore` into
 * `dir`, etcd started on it (plain HTTP on loopback), its health polled every 0.1 s, then `read` (the
 * commands given the client URL), then etcd killed and `dir` removed.
 */
export function byHandScript(
  snapshot: string,
  dir: string,
  ports: { client: number; peer: number },
  read: (clientUrl: string) => string[],
): string {
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  const clientUrl = `http://127.0.0.1:${ports.client}`;
  return [
    "set -e",
    `rm -rf ${dir}`,
    `etcdctl snapshot restore ${snapshot} --data-dir ${dir} --name m0 --initial-cluster m0=${peerUrl} --initial-advertise-peer-urls ${peerUrl} >/dev/null 2>&1`,
    `etcd --name m0 --data-dir ${dir} --listen-client-urls ${clientUrl} --advertise-client-urls ${clientUrl} --listen-peer-urls ${peerUrl} --initial-advertise-peer-urls ${peerUrl} --initial-cluster m0=${peerUrl} --quota-backend-bytes=8589934592 >${dir}.log 2>&1 &`,
    "E=$!",
    `until etcdctl --endpoints ${clientUrl} endpoint health >/dev/null 2>&1; do sleep 0.1; done`,
    ...read(clientUrl),
    "kill -9 $E; wait $E || true",
    `rm -rf ${dir} ${dir}.log`,
  ].join("\n");
}
