import { createServer, type Server, type Socket } from "node:net";
import { PortForward } from "@kubernetes/client-node";
import { describe, OperationError } from "../errors.js";
import { directConnector, type EtcdConnector } from "../etcd/connector.js";
import { type Endpoint, parseEndpoint, parseEndpoints } from "../etcd/endpoint.js";
import type { Logger } from "../logging.js";
import type { HostedClusterTarget } from "./discovery.js";
import type { ManagementCluster } from "./kube.js";
import { etcdMemberServerName } from "./names.js";

/** How this run reaches the hosted cluster's etcd members, and what to close afterwards. */
export interface EtcdAccess {
  readonly how: "endpoints" | "pod-network" | "port-forward";
  readonly endpoints: readonly Endpoint[];
  readonly connect: EtcdConnector;
  close(): Promise<void>;
}

export interface AccessOptions {
  /** --endpoints: reach etcd there (TLS still from the cluster's Secrets). */
  readonly endpoints?: string;
  /** Force the port-forward even inside a pod (tests, or a pod outside the management cluster's network). */
  readonly portForward?: boolean;
  readonly logger: Logger;
  /** Once aborted, a forward that fails is the stop's doing (the API server may be going away too): not a warning. */
  readonly signal?: AbortSignal;
}

/**
 * In this order: the endpoints the user gave; inside a pod of the management cluster, each etcd
 * pod's IP (every member answers for itself, so the survey proves the revisions agree — the
 * `etcd-client` Service would answer from a random member); from a laptop, a port-forward through
 * the API server to each etcd pod. Always with the cluster's CA and client certificate, checked
 * against the name HyperShift's server certificates carry.
 */
export async function reachEtcd(
  cluster: ManagementCluster,
  target: HostedClusterTarget,
  options: AccessOptions,
): Promise<EtcdAccess> {
  const connect = directConnector({ tls: target.tls });
  if (options.endpoints) {
    return { how: "endpoints", endpoints: parseEndpoints(options.endpoints), connect, close: async () => {} };
  }
  const inPod = process.env.KUBERNETES_SERVICE_HOST !== undefined && !options.portForward;
  if (inPod) return podNetwork(target);
  const forwards = await Promise.all(
    target.etcdPods.map((p) => forwardPod(cluster, target.hcpNamespace, p.name, p.clientPort, options)),
  );
  return {
    how: "port-forward",
    endpoints: forwards.map((f) => parseEndpoint(`https://127.0.0.1:${f.port}`)),
    connect,
    close: async () => {
      await Promise.all(forwards.map((f) => f.close()));
    },
  };
}

/**
 * Each member at its pod IP and container port, its certificate checked against that member's own
 * name (`etcd-N.etcd-discovery.<ns>.svc`): the name says which member answered, where the shared
 * `etcd-client` name would accept any of them, and the IP is in no HyperShift certificate.
 */
function podNetwork(target: HostedClusterTarget): EtcdAccess {
  const members = target.etcdPods.flatMap((p) =>
    p.podIP
      ? [
          {
            endpoint: parseEndpoint(`https://${p.podIP}:${p.clientPort}`),
            serverName: etcdMemberServerName(p.name, target.hcpNamespace),
          },
        ]
      : [],
  );
  if (members.length === 0) throw new OperationError(`no etcd pod of ${target.hcpNamespace} has an IP yet`);
  const byTarget = new Map(
    members.map((m) => [m.endpoint.target, directConnector({ tls: { ...target.tls, serverName: m.serverName } })]),
  );
  const fallback = directConnector({ tls: target.tls });
  return {
    how: "pod-network",
    endpoints: members.map((m) => m.endpoint),
    connect: (endpoint, opts) => (byTarget.get(endpoint.target) ?? fallback)(endpoint, opts),
    close: async () => {},
  };
}

/**
 * A loopback port whose every connection is a port-forward (WebSocket through the API server) to
 * the pod's etcd client port: what `kubectl port-forward` does, without kubectl.
 */
async function forwardPod(
  cluster: ManagementCluster,
  namespace: string,
  pod: string,
  podPort: number,
  { logger, signal }: AccessOptions,
): Promise<{ port: number; close: () => Promise<void> }> {
  const pf = new PortForward(cluster.config, true);
  const sockets = new Set<Socket>();
  let closing = false;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // The forward's WebSocket may close first (pod gone, API server restart); the client then sees
    // the connection drop, which the etcd client reports. Not an uncaught error.
    socket.on("error", (err) =>
      logger.debug({ pod: `${namespace}/${pod}`, error: err.message }, "port-forward connection ended"),
    );
    pf.portForward(namespace, pod, [podPort], socket, null, socket).then(
      (ws) => {
        const close = () => {
          const w = typeof ws === "function" ? ws() : ws;
          w?.close();
        };
        socket.on("close", close);
      },
      (err: unknown) => {
        const quiet = closing || signal?.aborted === true;
        logger[quiet ? "debug" : "warn"]({ pod: `${namespace}/${pod}`, error: describe(err) }, "port-forward failed");
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new OperationError("port-forward did not bind a port");
  logger.debug({ pod: `${namespace}/${pod}`, port: address.port }, "port-forward listening");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
