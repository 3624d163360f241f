import http2 from "node:http2";
import { CancelledError, EtcdError } from "../errors.js";
import type { TlsMaterial, TxnOp } from "./client.js";
import { mapGrpcError } from "./grpc-errors.js";
import { etcdMessageTypes } from "./proto.js";

/**
 * `KV.Txn` alone, as gRPC unary calls written straight onto one HTTP/2 session (Node's own
 * client): a chain's replay sends one Txn per source revision and waits for each, so the client's
 * work per call is on its critical path. grpc-js's call stack (interceptors, retries, load
 * balancing, metadata) cost 0.39–0.47 ms of CPU per Txn here against 0.23–0.29 ms for these frames
 * (bench/txn-calls.ts, docs/benchmarks.md), on a 2-core machine where the scratch etcd needs the
 * other core. Everything else talks through EtcdClient (grpc-js); this speaks to a scratch etcd the
 * tool started itself, on loopback with its own certificates.
 */
export class TxnChannel {
  private readonly pending = new Set<(err: Error) => void>();
  private failure: Error | undefined;

  private constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly endpoint: string,
    private readonly callTimeoutMs: number,
  ) {
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const reject of this.pending) reject(this.failure);
      this.pending.clear();
    };
    session.on("error", (err: Error) => fail(this.transportError(err.message)));
    session.on("goaway", () => fail(this.transportError("the server closed the connection (GOAWAY)")));
    session.on("close", () => fail(this.transportError("the connection closed")));
  }

  /** Connects to `endpoint` (https://host:port) with mutual TLS. */
  static async open(
    endpoint: string,
    tls: TlsMaterial,
    options: { readonly callTimeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<TxnChannel> {
    const session = http2.connect(endpoint, {
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ...(tls.serverName ? { servername: tls.serverName } : {}),
    });
    const channel = new TxnChannel(session, endpoint, options.callTimeoutMs ?? 120_000);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(channel.transportError(err.message));
      session.once("connect", () => {
        session.off("error", onError);
        resolve();
      });
      session.once("error", onError);
    });
    const { signal } = options;
    if (signal) {
      const onAbort = () => {
        channel.failure ??= new CancelledError("KV.Txn was cancelled");
        channel.close();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      session.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    return channel;
  }

  /** Applies the puts and deletes in one Txn (no compares); resolves to the revision etcd gave them. */
  txn(ops: readonly TxnOp[]): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const { TxnRequest, TxnResponse } = etcdMessageTypes();
    const body = TxnRequest.encode({
      success: ops.map((op) =>
        op.type === "put"
          ? {
              requestPut: {
                key: op.key,
                value: op.value,
                ...(op.lease && op.lease !== "0" ? { lease: op.lease } : {}),
              },
            }
          : { requestDeleteRange: { key: op.key } },
      ),
    }).finish();
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame.writeUInt8(0, 0); // not compressed
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    return new Promise<number>((resolve, reject) => {
      const req = this.session.request({
        ":method": "POST",
        ":path": "/etcdserverpb.KV/Txn",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${this.callTimeoutMs}m`,
      });
      const chunks: Buffer[] = [];
      let status: { code: number; message: string } | undefined;
      let settled = false;
      const finish = (err: Error | undefined, revision?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(abort);
        if (err) reject(err);
        else resolve(revision as number);
      };
      const abort = (err: Error) => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        finish(err);
      };
      this.pending.add(abort);
      const timer = setTimeout(
        () => abort(new EtcdError(`etcd at ${this.endpoint} did not answer KV.Txn in time`)),
        this.callTimeoutMs,
      );
      // A status may come with the headers (trailers-only: an error without a body) or after the body.
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        const code = headers["grpc-status"];
        if (code !== undefined)
          status = { code: Number(code), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
      };
      req.on("response", (headers) => {
        const http = Number(headers[":status"]);
        if (http !== 200) finish(this.transportError(`HTTP status ${http} for KV.Txn`));
        else readStatus(headers);
      });
      req.on("trailers", readStatus);
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", (err: Error) => finish(this.failure ?? this.transportError(err.message)));
      req.on("end", () => {
        if (!status) return finish(this.transportError("KV.Txn ended without a gRPC status"));
        if (status.code !== 0)
          return finish(
            mapGrpcError(
              Object.assign(new Error(status.message), { code: status.code, details: status.message }) as never,
              this.endpoint,
              "KV.Txn",
            ),
          );
        const message = Buffer.concat(chunks);
        if (message.length < 5 || message.readUInt32BE(1) !== message.length - 5)
          return finish(this.transportError(`KV.Txn answered ${message.length} bytes, not one message`));
        const res = TxnResponse.decode(message.subarray(5)) as unknown as {
          header?: { revision?: number | { toNumber(): number } };
        };
        const revision = res.header?.revision ?? 0;
        finish(undefined, typeof revision === "number" ? revision : revision.toNumber());
      });
      req.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }

  private transportError(why: string): EtcdError {
    return new EtcdError(`etcd at ${this.endpoint} is unavailable (KV.Txn): ${why}`);
  }
}
