import { basename, dirname } from "node:path";
import { EtcdClient, type TlsMaterial } from "../etcd/client.js";
import type { Endpoint } from "../etcd/endpoint.js";
import { LocalStore } from "../store/local-store.js";
import { SnapshotVerifier, type VerifiedSnapshot } from "./verified-stream.js";

export interface SaveRequest {
  readonly endpoint: Endpoint;
  readonly file: string;
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytes: number, total: number) => void;
}

/**
 * `etcdctl snapshot save`, verified: streams the snapshot into `<file>.part` (mode 0600), checks
 * the SHA-256 trailer and the structure on the way, fsyncs and renames. On any failure nothing is
 * left behind, not even the .part file.
 */
export async function saveSnapshotFile(req: SaveRequest): Promise<VerifiedSnapshot> {
  const client = await EtcdClient.connect({
    endpoint: req.endpoint,
    tls: req.tls,
    auth: req.auth,
    signal: req.signal,
  });
  try {
    const verifier = new SnapshotVerifier({ onProgress: req.onProgress });
    await new LocalStore(dirname(req.file)).put(
      basename(req.file),
      verifier.pipe(client.snapshot(), req.endpoint.url),
      {
        signal: req.signal,
      },
    );
    return verifier.result;
  } finally {
    client.close();
  }
}
