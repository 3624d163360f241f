import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EtcdClient, type MemberStatus } from "../../src/etcd/client.js";
import { trackChild } from "../../src/localetcd/reaper.js";
import { liveKeys } from "../../src/snapshot/keys.js";
import { runCli } from "../support/cli.js";
import type { EtcdCluster } from "../support/etcd-cluster.js";
import { waitFor } from "../support/wait.js";

/** What `restore local -o json` prints. */
export interface RestoreOutput {
  dataDir: string;
  revision: number;
  token: string;
  members: Array<{ name: string; dataDir: string; peerURLs: string[]; clientURL?: string; command: string[] }>;
  clientTls?: { caCert: string; cert: string; key: string };
  checks: string[];
}

/** etcd members started with exactly the command lines `restore local` printed, as a user would. */
export class PrintedMembers {
  private constructor(
    private readonly procs: ChildProcess[],
    private readonly out: RestoreOutput,
  ) {}

  static async start(out: RestoreOutput): Promise<PrintedMembers> {
    const procs = out.members.map((m) => {
      const [bin, ...args] = m.command;
      const child = spawn(bin as string, args, { stdio: "ignore" });
      trackChild(child);
      return child;
    });
    const started = new PrintedMembers(procs, out);
    try {
      await waitFor(
        "every restored member to see a leader",
        async () => {
          for (const p of procs) if (p.exitCode !== null) throw new Error(`a restored member exited (${p.exitCode})`);
          try {
            const st = await started.statuses();
            return st.every((s) => s.leaderId !== "0") ? st : undefined;
          } catch {
            return undefined;
          }
        },
        30_000,
      );
    } catch (err) {
      await started.stop();
      throw err;
    }
    return started;
  }

  async client(i: number, callTimeoutMs = 2000): Promise<EtcdClient> {
    const tls = this.out.clientTls;
    if (!tls) throw new Error("no client TLS in the restore output");
    const [ca, cert, key] = await Promise.all([readFile(tls.caCert), readFile(tls.cert), readFile(tls.key)]);
    return EtcdClient.connect({
      endpoint: this.out.members[i]?.clientURL as string,
      tls: { ca, cert, key, serverName: "localhost" },
      callTimeoutMs,
    });
  }

  async statuses(): Promise<MemberStatus[]> {
    const out: MemberStatus[] = [];
    for (let i = 0; i < this.procs.length; i++) {
      const c = await this.client(i);
      try {
        out.push(await c.status());
      } finally {
        c.close();
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once("exit", () => resolve());
            p.kill("SIGKILL");
          }),
      ),
    );
  }
}

/** key -> SHA-256 of value, for every live key of the snapshot (the snapshot module's own reading). */
export function snapshotContents(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of liveKeys(file)) out.set(k, v.valueHash);
  return out;
}

/** key -> SHA-256 of value, for every key etcd serves at `revision` (one Range: test data is small). */
export async function servedContents(client: EtcdClient, revision: number): Promise<Map<string, string>> {
  const page = await client.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), revision });
  const out = new Map<string, string>();
  for (const kv of page.kvs) out.set(kv.key.toString("latin1"), createHash("sha256").update(kv.value).digest("hex"));
  return out;
}

/** Writes what a restore must carry over: overwrites, deletes, a leased key, a multi-page value, many keys. */
export async function fillSource(client: EtcdClient): Promise<number> {
  for (let i = 0; i < 150; i++)
    await client.put(`/registry/configmaps/ns-${i % 5}/cm-${i}`, `value-${i}-${"x".repeat(i)}`);
  await client.put("/registry/configmaps/ns-0/cm-1", "overwritten");
  await client.delete("/registry/configmaps/ns-0/cm-2");
  const lease = await client.leaseGrant(3600);
  await client.put("/registry/leases/kube-system/holder", "leased", lease);
  await client.put("/registry/secrets/ns-1/big", Buffer.alloc(50_000, 7));
  return client.put(Buffer.from([0x2f, 0xff, 0x00, 0x01]), "binary key");
}

/** `backup --endpoints` of a test etcd into a local store, through the built CLI: the new backup's ref. */
export async function backupToLocalStore(etcd: EtcdCluster, store: string, label = "lab"): Promise<string> {
  const b = await runCli([
    "backup",
    "--endpoints",
    etcd.endpoint(0),
    ...etcd.tlsFlags,
    "--to",
    store,
    "--name",
    label,
    "-o",
    "json",
  ]);
  assert.equal(b.code, 0, b.stderr);
  return (JSON.parse(b.stdout) as { ref: string }).ref;
}
