import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";

/** Pods record the loopback port that backs each container port in an annotation with this prefix. */
export const FORWARD_ANNOTATION_PREFIX = "kubesim.hcp-etcd-backup.io/port-";

/** The subprotocols of kubelet's WebSocket port-forward, best first: both frame as below. */
const PROTOCOLS = ["v4.channel.k8s.io", "channel.k8s.io"];

const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;
// Past this much unsent data toward the client, stop reading from the target until it drains.
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * kubelet's WebSocket port-forward for one port, as client-node's PortForward speaks it: every message
 * starts with its channel byte (0 data, 1 errors); the server's first message on each channel is the
 * port number (2 bytes, little-endian); the client sends raw data on channel 0.
 */
export class PortForwarder {
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  private readonly sockets = new Set<Socket>();

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, port: number, target: number | undefined): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.pipe(ws, port, target));
  }

  /** Ends every forwarded connection. */
  close(): void {
    for (const client of this.wss.clients) client.terminate();
    for (const s of this.sockets) s.destroy();
    this.wss.close();
  }

  private pipe(ws: WebSocket, port: number, target: number | undefined): void {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port, 0);
    ws.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), prefix]));
    ws.send(Buffer.concat([Buffer.from([ERROR_CHANNEL]), prefix]));
    const fail = (why: string): void => {
      if (ws.readyState === ws.OPEN) {
        ws.send(Buffer.concat([Buffer.from([ERROR_CHANNEL]), Buffer.from(why)]));
        ws.close(1011);
      }
    };
    if (target === undefined) {
      fail(`error forwarding port ${port} to pod: nothing listens on port ${port} in the pod`);
      return;
    }
    const tcp = connect({ host: "127.0.0.1", port: target });
    this.sockets.add(tcp);
    tcp.on("close", () => {
      this.sockets.delete(tcp);
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
    tcp.on("error", (err) => {
      fail(`error forwarding port ${port} to pod, dial tcp4 127.0.0.1:${port}: ${err.message}`);
    });
    tcp.on("data", (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(Buffer.concat([Buffer.from([DATA_CHANNEL]), chunk]));
      if (ws.bufferedAmount > HIGH_WATER) {
        tcp.pause();
        const drain = setInterval(() => {
          if (ws.readyState !== ws.OPEN || ws.bufferedAmount < HIGH_WATER / 2) {
            clearInterval(drain);
            tcp.resume();
          }
        }, 5);
      }
    });
    ws.on("message", (data: RawData) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (buf.length === 0 || buf[0] !== DATA_CHANNEL) return;
      tcp.write(buf.subarray(1));
    });
    ws.on("close", () => tcp.destroy());
    ws.on("error", () => tcp.destroy());
  }
}
