import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { EtcdCluster } from "./etcd-cluster.js";

const run = promisify(execFile);

/** Runs the real etcdctl (the oracle) against member `member` of the cluster, with its client TLS files. */
export async function etcdctl(cluster: EtcdCluster, args: string[], member = 0): Promise<string> {
  const { stdout } = await run("etcdctl", [`--endpoints=${cluster.endpoint(member)}`, ...cluster.tlsFlags, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** `etcdctl snapshot status` output for a file (no endpoint needed). */
export async function etcdctlStatus(file: string, format: "json" | "table" | "simple" | "fields"): Promise<string> {
  const { stdout } = await run("etcdctl", ["snapshot", "status", file, "-w", format], {
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  return stdout;
}
