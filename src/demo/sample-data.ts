import { randomBytes } from "node:crypto";
import { CancelledError } from "../errors.js";
import type { EtcdClient } from "../etcd/client.js";

export interface LoadOptions {
  /** Stop once this many value bytes have been written. */
  readonly targetBytes: number;
  /** Value size in bytes, or a [min, max] range picked per key (default [512, 8192], like typical objects). */
  readonly valueSize?: number | readonly [number, number];
  /** Puts in flight (default 8). */
  readonly concurrency?: number;
  /** Seed for key names and sizes, so a run can be repeated (default 1). */
  readonly seed?: number;
  /** Stops the loading between two puts (Ctrl-C during the demo). */
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  readonly keys: number;
  readonly bytes: number;
  readonly revision: number;
}

// Resource kinds and namespaces shaped like a hosted cluster's keyspace.
const RESOURCES = ["pods", "secrets", "configmaps", "services/specs", "deployments", "replicasets", "events", "leases"];
const NAMESPACES = ["default", "kube-system", "openshift-monitoring", "openshift-ingress", "app-team-a", "app-team-b"];
const MAX_VALUE = 1024 * 1024; // below etcd's 1.5 MiB request limit

/** Small deterministic PRNG (mulberry32): the same seed gives the same sequence (keys, sizes, fuzz cases). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fills etcd with Kubernetes-like keys (`/kubernetes.io/<resource>/<namespace>/<name>`) until
 * `targetBytes` of values are written. Values are incompressible bytes cut from one random pool,
 * each stamped with its key so no two values are equal.
 */
export async function loadKubernetesData(client: EtcdClient, options: LoadOptions): Promise<LoadResult> {
  const rand = prng(options.seed ?? 1);
  const [lo, hi] =
    typeof options.valueSize === "number" ? [options.valueSize, options.valueSize] : (options.valueSize ?? [512, 8192]);
  if (lo < 1 || hi > MAX_VALUE || lo > hi) throw new RangeError(`value size must be within 1..${MAX_VALUE}`);
  const pool = randomBytes(hi + 4096);
  let written = 0;
  let keys = 0;
  let revision = 0;
  let next = 0;

  const nextPut = (): { key: string; value: Buffer } | undefined => {
    if (written >= options.targetBytes) return undefined;
    const n = next++;
    const resource = RESOURCES[Math.floor(rand() * RESOURCES.length)];
    const namespace = NAMESPACES[Math.floor(rand() * NAMESPACES.length)];
    const key = `/kubernetes.io/${resource}/${namespace}/object-${n.toString().padStart(8, "0")}`;
    const size = lo + Math.floor(rand() * (hi - lo + 1));
    const offset = Math.floor(rand() * 4096);
    const value = Buffer.allocUnsafe(size);
    pool.copy(value, 0, offset, offset + size);
    value.write(key.slice(0, Math.min(size, key.length)), 0, "latin1");
    written += size;
    return { key, value };
  };

  const worker = async (): Promise<void> => {
    for (let item = nextPut(); item; item = nextPut()) {
      if (options.signal?.aborted) throw new CancelledError("loading the sample data was cancelled");
      const rev = await client.put(item.key, item.value);
      keys++;
      if (rev > revision) revision = rev;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return { keys, bytes: written, revision };
}
