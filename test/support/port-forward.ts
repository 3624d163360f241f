// A local port that forwards to a pod through the API server with client-node's PortForward: what
// the hosted-cluster backup will do to reach etcd. One WebSocket per accepted TCP connection.
import { createServer, type Server, type Socket } from "node:net";
import { type KubeConfig, PortForward } from "@kubernetes/client-node";

export interface LocalForward {
  readonly port: number;
  close(): Promise<void>;
}

export async function forwardPort(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  remotePort: number,
): Promise<LocalForward> {
  const pf = new PortForward(kc);
  const sockets = new Set<Socket>();
  const closers = new Set<() => void>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    pf.portForward(namespace, pod, [remotePort], socket, null, socket)
      .then((ws) => {
        const w = ws as { close(): void; on?(e: string, f: () => void): void };
        closers.add(() => w.close());
        w.on?.("close", () => socket.destroy());
      })
      .catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: async () => {
      for (const c of closers) c();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
