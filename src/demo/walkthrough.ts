import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backupEtcd } from "../backup/etcd-backup.js";
import { verifyBackup } from "../backup/verify-backup.js";
import { parseEndpoints } from "../etcd/endpoint.js";
import { LocalEtcdCluster } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import type { Logger } from "../logging.js";
import { readCatalog } from "../store/catalog.js";
import { openStore } from "../store/open-store.js";
import { loadKubernetesData } from "./sample-data.js";

export interface DemoOptions {
  readonly members?: number;
  /** Bytes of sample data to load (default 8 MiB). */
  readonly dataBytes?: number;
  /** Back up into this directory and leave it there (default: a temp directory, removed at the end). */
  readonly storeDir?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Receives one human-readable line per step. */
  readonly report: (line: string) => void;
}

export interface DemoResult {
  readonly members: number;
  readonly keys: number;
  readonly bytes: number;
  readonly revision: number;
  readonly leader: string;
  readonly backupRef: string;
}

/**
 * The sandbox walk-through: a local etcd shaped like a hosted control plane's (3 members, mutual
 * TLS), filled with Kubernetes-like data, backed up into a local store, listed and verified. Restore
 * joins here as the product grows. Everything it starts is gone when it returns or throws.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { report } = options;
  const started = Date.now();
  report(`starting a local ${options.members ?? 3}-member etcd with mutual TLS on 127.0.0.1 ...`);
  const cluster = await LocalEtcdCluster.start({ members: options.members ?? 3 });
  try {
    const statuses = await cluster.statuses();
    const leader = statuses.find((s) => s.isLeader);
    report(
      `etcd ${statuses[0]?.version ?? "?"} is healthy: ${statuses.length} members, leader ${leader?.memberId ?? "?"} (${((Date.now() - started) / 1000).toFixed(1)}s)`,
    );
    for (let i = 0; i < cluster.size; i++) report(`  ${cluster.memberName(i)}  ${cluster.endpoint(i)}`);

    const client = await cluster.client(0);
    try {
      const target = options.dataBytes ?? 8 * 1024 * 1024;
      report(`loading ${(target / 1048576).toFixed(0)} MiB of Kubernetes-like objects under /kubernetes.io/ ...`);
      const t0 = Date.now();
      const load = await loadKubernetesData(client, { targetBytes: target });
      const secs = (Date.now() - t0) / 1000;
      report(
        `loaded ${load.keys} keys, ${(load.bytes / 1048576).toFixed(1)} MiB in ${secs.toFixed(1)}s; revision ${load.revision}`,
      );
      const count = await client.count("/kubernetes.io/");
      const after = await cluster.statuses();
      report(
        `etcd reports ${count} live keys under /kubernetes.io/, db size ${(Math.max(...after.map((s) => s.dbSize)) / 1048576).toFixed(1)} MiB`,
      );
      const kept = options.storeDir !== undefined;
      const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), "hcpeb-demo-store-")));
      if (!kept) trackDir(storeDir);
      try {
        const store = openStore(storeDir);
        report(`backing up into the local store ${storeDir} (streamed; SHA-256 and status checked on the way) ...`);
        const tls = await cluster.tlsMaterial();
        const b = await backupEtcd({
          endpoints: parseEndpoints(cluster.endpoints.join(",")),
          tls,
          store,
          label: "demo",
          signal: options.signal,
          logger: options.logger,
        });
        const s = b.manifest.snapshot;
        report(
          `backup ${b.manifest.backupId} from ${b.manifest.source.member.name}: revision ${s.revision}, ${s.totalKeys} stored entries (etcdctl's TOTAL KEYS: every revision of every key, plus etcd's own records; not live keys), ${(s.objectSize / 1048576).toFixed(1)} MiB in ${b.manifest.timings.snapshotSeconds.toFixed(2)}s`,
        );
        const catalog = await readCatalog(store, { signal: options.signal });
        report(`list: ${catalog.backups.length} backup(s) in the store`);
        for (const e of catalog.backups) {
          report(`  ${e.ref}  revision ${e.manifest.snapshot.revision}  verified ${e.verified ? "yes" : "no"}`);
        }
        const v = await verifyBackup(openStore(b.ref), { signal: options.signal });
        report(`verify: ${v.verification.ok ? "OK" : "FAILED"} (${v.verification.checks.join(", ")})`);
        return {
          members: statuses.length,
          keys: count,
          bytes: load.bytes,
          revision: load.revision,
          leader: leader?.memberId ?? "",
          backupRef: b.ref,
        };
      } finally {
        if (kept) report(`the backup stays in ${storeDir} (try: hcp-etcd-backup list --from ${storeDir})`);
        else {
          releaseDir(storeDir);
          report(`removed the temporary store ${storeDir} (keep one with --store DIR)`);
        }
      }
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    report("stopped the local etcd and removed its files");
  }
}
