import { EtcdClient, type TlsMaterial } from "./client.js";
import type { Endpoint } from "./endpoint.js";

/**
 * How the pipeline reaches one etcd member. The plain-etcd backup connects to the URLs it was
 * given with TLS files read by the CLI; a hosted cluster's backup connects with PEM bytes from
 * Kubernetes Secrets, possibly through a port-forward: the pipeline only sees this function.
 */
export type EtcdConnector = (
  endpoint: Endpoint,
  options?: { readonly callTimeoutMs?: number; readonly signal?: AbortSignal },
) => Promise<EtcdClient>;

export interface EtcdCredentials {
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
}

/** A connector for direct connections with the given TLS material (PEM bytes) and credentials. */
export function directConnector(credentials: EtcdCredentials = {}): EtcdConnector {
  return (endpoint, options = {}) =>
    EtcdClient.connect({
      endpoint,
      tls: credentials.tls,
      auth: credentials.auth,
      callTimeoutMs: options.callTimeoutMs,
      signal: options.signal,
    });
}
