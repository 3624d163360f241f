import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * What to do with one request: forward it, answer with an S3 error, cut the connection, stall
 * (stop reading and never answer, as a Ceph cluster does when its OSDs are full), or forward it
 * and strip the ETag from the answer (a proxy that drops headers: S3 stored the part, we cannot name it).
 */
export type FaultAction = "pass" | "drop" | "stall" | "strip-etag" | { readonly status: number; readonly code: string };

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly action: FaultAction;
}

/**
 * A loopback HTTP proxy in front of the real S3 server that injects faults chosen per request:
 * S3 error answers (503 SlowDown, 500 InternalError) or dropped connections. Signatures pass
 * through untouched (path-style requests keep their Host-independent canonical form).
 */
export class S3FaultProxy {
  readonly seen: SeenRequest[] = [];
  rule: (req: IncomingMessage, index: number) => FaultAction = () => "pass";
  /**
   * Called once the upstream has answered a forwarded request, before the answer goes back: a test
   * can act at the moment the server's work is done but the client does not know it yet.
   */
  onAnswer: (req: IncomingMessage) => void = () => {};
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(upstream: string): Promise<S3FaultProxy> {
    const target = new URL(upstream);
    let proxy: S3FaultProxy | undefined;
    const server = createServer((req, res) => {
      const p = proxy as S3FaultProxy;
      // A client that gave up (cancelled) resets the socket: that is not a proxy failure.
      req.on("error", () => {});
      res.on("error", () => {});
      const action = p.rule(req, p.seen.length);
      p.seen.push({ method: req.method ?? "", url: req.url ?? "", action });
      if (action === "drop") {
        req.socket.destroy();
        return;
      }
      if (action === "stall") {
        req.pause();
        return;
      }
      if (action !== "pass" && action !== "strip-etag") {
        req.resume();
        req.on("end", () => {
          res.writeHead(action.status, { "content-type": "application/xml" });
          res.end(
            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected by the test proxy</Message></Error>`,
          );
        });
        return;
      }
      // Host stays as the client signed it: forward to the upstream address with the original headers.
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          p.onAnswer(req);
          const headers = { ...upRes.headers };
          if (action === "strip-etag") delete headers.etag;
          res.writeHead(upRes.statusCode ?? 502, headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new S3FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** True for an UploadPart request (PUT with partNumber & uploadId). */
export function isUploadPart(req: IncomingMessage): boolean {
  return req.method === "PUT" && /[?&]partNumber=/.test(req.url ?? "") && /[?&]uploadId=/.test(req.url ?? "");
}

/** True for a CreateMultipartUpload request (POST ?uploads). */
export function isCreateMultipartUpload(req: IncomingMessage): boolean {
  return req.method === "POST" && /[?&]uploads(=|&|$)/.test(req.url ?? "");
}

/** True for an AbortMultipartUpload request (DELETE with uploadId). */
export function isAbortMultipartUpload(req: IncomingMessage): boolean {
  return req.method === "DELETE" && /[?&]uploadId=/.test(req.url ?? "");
}
