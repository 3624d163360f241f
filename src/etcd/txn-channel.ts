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
  /** Every call in flight, by the function that ends it with an error (and cancels its stream). */
  private readonly pending = new Set<(err: Error) => void>();
  private failure: Error | undefined;

  private constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly endpoint: string,
    private readonly callTimeoutMs: number,
  ) {
    session.on("error", (err: Error) => this.fail(this.transportError(err.message)));
    session.on("goaway", () => this.fail(this.transportError("the server closed the connection (GOAWAY)")));
    session.on("close", () => this.fail(this.transportError("the connection closed")));
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
    // grpc-timeout takes at most 8 digits.
    const timeoutMs = Math.min(Math.max(1, Math.round(options.callTimeoutMs ?? 120_000)), 99_999_999);
    const channel = new TxnChannel(session, endpoint, timeoutMs);
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
      // At once, calls in flight included: a stuck etcd must not hold up a Ctrl-C.
      const onAbort = () => {
        channel.fail(new CancelledError("KV.Txn was cancelled"));
        session.destroy();
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
    if (this.session.closed || this.session.destroyed)
      return Promise.reject(this.transportError("the channel was closed"));
    const { TxnRequest, TxnResponse } = etcdMessageTypes();
    const body = TxnRequest.encode(txnRequest(ops)).finish();
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
        if (!req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL);
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
        if (code === undefined) return;
        const raw = String(headers["grpc-message"] ?? "");
        let message = raw;
        try {
          message = decodeURIComponent(raw);
        } catch {
          // a malformed escape: etcd's words as sent
        }
        status = { code: Number(code), message };
      };
      req.on("response", (headers) => {
        const http = Number(headers[":status"]);
        if (http !== 200) abort(this.transportError(`HTTP status ${http} for KV.Txn`));
        else readStatus(headers);
      });
      req.on("trailers", readStatus);
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", (err: Error) => finish(this.failure ?? this.transportError(err.message)));
      // A stream reset without an error (or before its end) settles the call too, not its timer.
      req.on("close", () => finish(this.failure ?? this.transportError("KV.Txn's stream closed before its answer")));
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
        finish(...this.revisionOf(Buffer.concat(chunks), TxnResponse));
      });
      req.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }

  /** The revision in a TxnResponse's one uncompressed message, or why there is none. */
  private revisionOf(
    message: Buffer,
    TxnResponse: ReturnType<typeof etcdMessageTypes>["TxnResponse"],
  ): [Error | undefined, number?] {
    if (message.length < 5 || message.readUInt32BE(1) !== message.length - 5)
      return [this.transportError(`KV.Txn answered ${message.length} bytes, not one message`)];
    if (message[0] !== 0) return [this.transportError("KV.Txn answered a compressed message (none was offered)")];
    try {
      const res = TxnResponse.decode(message.subarray(5)) as unknown as {
        header?: { revision?: number | { toNumber(): number } };
      };
      const revision = res.header?.revision ?? 0;
      return [undefined, typeof revision === "number" ? revision : revision.toNumber()];
    } catch (err) {
      return [this.transportError(`KV.Txn's answer does not decode: ${(err as Error).message}`)];
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const abort of [...this.pending]) abort(this.failure);
    this.pending.clear();
  }

  private transportError(why: string): EtcdError {
    return new EtcdError(`etcd at ${this.endpoint} is unavailable (KV.Txn): ${why}`);
  }
}

/**
 * The TxnRequest for `ops`, with etcd's field names (request_put: the schema is loaded with keepCase,
 * in the single executable too; protobufjs drops a field it does not know without a word).
 */
export function txnRequest(ops: readonly TxnOp[]): object {
  return {
    success: ops.map((op) =>
      op.type === "put"
        ? {
            request_put: {
              key: op.key,
              value: op.value,
              ...(op.lease && op.lease !== "0" ? { lease: op.lease } : {}),
            },
          }
        : { request_delete_range: { key: op.key } },
    ),
  };
}
