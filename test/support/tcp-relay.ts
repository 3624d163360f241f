import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A loopback TCP relay in front of one etcd member that stops relaying the server's bytes on a
 * connection once it has passed `pauseAfterBytes` of them. TLS goes through untouched. A snapshot
 * stream through it is then held mid-stream for as long as the test wants — no race with how fast
 * etcd sends — which is what a test of "interrupted mid-stream" needs.
 */
export class TcpRelay {
  private readonly sockets = new Set<Socket>();
  private pausedResolve: (() => void) | undefined;
  /** Resolves when a connection has been held. */
  readonly paused: Promise<void>;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.paused = new Promise((resolve) => {
      this.pausedResolve = resolve;
    });
  }

  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  static async start(upstreamPort: number, pauseAfterBytes: number): Promise<TcpRelay> {
    let relay: TcpRelay | undefined;
    const server = createServer((client) => {
      const r = relay as TcpRelay;
      const upstream = connect({ host: "127.0.0.1", port: upstreamPort });
      r.sockets.add(client).add(upstream);
      let down = 0;
      client.pipe(upstream);
      upstream.on("data", (chunk: Buffer) => {
        const room = pauseAfterBytes - down;
        if (room <= 0) return;
        down += chunk.length;
        client.write(chunk.length > room ? chunk.subarray(0, room) : chunk);
        if (down >= pauseAfterBytes) {
          upstream.pause(); // etcd's sends now back up in its socket: the stream is held
          r.pausedResolve?.();
        }
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close).on("close", close);
      upstream.on("error", close).on("end", () => client.end());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("relay did not bind a TCP port");
    relay = new TcpRelay(server, address.port);
    return relay;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
