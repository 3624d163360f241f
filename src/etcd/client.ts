import * as grpc from "@grpc/grpc-js";
import { CancelledError, describe, EtcdError } from "../errors.js";
import { type Endpoint, parseEndpoint } from "./endpoint.js";
import { mapGrpcError } from "./grpc-errors.js";
import {
  etcdServices,
  type RawHeader,
  type RawKeyValue,
  type RawMember,
  type RawSnapshotChunk,
  type RawStatus,
} from "./proto.js";

/** PEM material for mutual TLS. Without `cert`/`key` the client authenticates the server only. */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Name to check the server certificate against when it differs from the endpoint's host. */
  readonly serverName?: string;
}

export interface EtcdClientOptions {
  readonly endpoint: Endpoint | string;
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
  /** Deadline for unary calls; the snapshot stream has none. */
  readonly callTimeoutMs?: number;
  /** Cancels every call of this client, the snapshot stream included, and closes it. */
  readonly signal?: AbortSignal;
}

export interface Member {
  /** Member ID in hex, as etcdctl prints it. */
  readonly id: string;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface HashKv {
  readonly hash: number;
  /** The member's current revision when it hashed (not the one hashed at). */
  readonly revision: number;
  readonly compactRevision: number;
}

export interface MemberStatus {
  readonly endpoint: string;
  readonly memberId: string;
  readonly clusterId: string;
  readonly version: string;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly leaderId: string;
  readonly isLeader: boolean;
  readonly isLearner: boolean;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly revision: number;
  readonly errors: readonly string[];
}

export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string;
}

export interface RangeRequest {
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
  readonly revision?: number;
  readonly limit?: number;
}

export interface RangePage {
  /** The store's current revision (not the one read at). */
  readonly revision: number;
  readonly kvs: KeyValue[];
  readonly more: boolean;
}

export interface SnapshotChunk {
  readonly blob: Buffer;
  /** Bytes the server still has to send after this chunk (0 on the last data chunk and the trailer). */
  readonly remaining: number;
}

// grpc-js's default 64 KiB window halves snapshot throughput; 4 MiB gets close to etcdctl. What the
// window admits waits in memory while the store is the slower side, so it is not larger.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": 4 * 1024 * 1024,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 8 * 1024 * 1024,
};

type Unary = (
  req: object,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => grpc.ClientUnaryCall;

const hexId = (decimal: string): string => BigInt(decimal).toString(16);

/** One connection to one etcd member. */
export class EtcdClient {
  readonly endpoint: Endpoint;
  private readonly clients: Record<"KV" | "Lease" | "Cluster" | "Maintenance" | "Auth" | "Watch", grpc.Client>;
  private readonly metadata = new grpc.Metadata();
  private readonly callTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  /** The name the server certificate is checked against, when not the endpoint's host (for messages). */
  private readonly serverName: string | undefined;
  private readonly auth: EtcdClientOptions["auth"];
  /** The token being fetched again, shared by every call that found the old one refused. */
  private reauthenticating: Promise<void> | undefined;

  private constructor(options: EtcdClientOptions) {
    this.endpoint = typeof options.endpoint === "string" ? parseEndpoint(options.endpoint) : options.endpoint;
    this.callTimeoutMs = options.callTimeoutMs ?? 10_000;
    this.signal = options.signal;
    this.serverName = options.tls?.serverName;
    this.auth = options.auth;
    const creds = this.endpoint.secure
      ? grpc.credentials.createSsl(options.tls?.ca ?? null, options.tls?.key ?? null, options.tls?.cert ?? null)
      : grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = { ...CHANNEL_OPTIONS };
    if (options.tls?.serverName) channelOptions["grpc.ssl_target_name_override"] = options.tls.serverName;
    const services = etcdServices();
    const kv = new services.KV(this.endpoint.target, creds, channelOptions);
    // All services share the first client's channel: one TCP+TLS connection per member.
    const shared = { ...channelOptions, channelOverride: kv.getChannel() };
    this.clients = {
      KV: kv,
      Lease: new services.Lease(this.endpoint.target, creds, shared),
      Cluster: new services.Cluster(this.endpoint.target, creds, shared),
      Maintenance: new services.Maintenance(this.endpoint.target, creds, shared),
      Auth: new services.Auth(this.endpoint.target, creds, shared),
      Watch: new services.Watch(this.endpoint.target, creds, shared),
    };
  }

  /** Opens a client; with `auth` it also obtains a token (etcd's simple/JWT token auth). */
  static async connect(options: EtcdClientOptions): Promise<EtcdClient> {
    const endpoint = typeof options.endpoint === "string" ? options.endpoint : options.endpoint.url;
    if (options.signal?.aborted) throw new CancelledError(`connecting to etcd at ${endpoint} was cancelled`);
    const client = new EtcdClient(options);
    if (options.auth) {
      try {
        await client.authenticate();
      } catch (err) {
        client.close();
        throw err;
      }
    }
    return client;
  }

  private async authenticate(): Promise<void> {
    if (!this.auth) return;
    // Without the old token: etcd checks any token it is sent, even on Authenticate.
    const res = (await this.once(
      "Auth",
      "Authenticate",
      { name: this.auth.user, password: this.auth.password },
      new grpc.Metadata(),
    )) as { token: string };
    this.metadata.set("token", res.token);
  }

  close(): void {
    for (const c of Object.values(this.clients)) c.close();
  }

  private cancelled(call: string): CancelledError {
    return new CancelledError(`${call} on etcd at ${this.endpoint.url} was cancelled`);
  }

  /**
   * One call; with a user and password, a call refused for its token is made again once with a new
   * one (a refused call was never applied, so making it again is safe). etcd forgets simple tokens
   * when it restarts or after --auth-token-ttl (5 min) unused, and may refuse a token issued before a
   * change to its users or roles, while a continuous backup runs for days on one client. Streams
   * (watch, snapshot) check the token only when they open, which every caller does right after
   * connecting; a stream that fails is followed by a new client, so they are not retried here.
   */
  private async unary(service: keyof EtcdClient["clients"], method: string, req: object): Promise<unknown> {
    try {
      return await this.once(service, method, req);
    } catch (err) {
      if (!this.auth || !(err instanceof EtcdError) || !isStaleToken(err.cause)) throw err;
      this.reauthenticating ??= this.authenticate().finally(() => {
        this.reauthenticating = undefined;
      });
      await this.reauthenticating;
      return await this.once(service, method, req);
    }
  }

  private once(
    service: keyof EtcdClient["clients"],
    method: string,
    req: object,
    metadata: grpc.Metadata = this.metadata,
  ): Promise<unknown> {
    const client = this.clients[service] as unknown as Record<string, Unary>;
    const fn = client[method];
    if (!fn) throw new Error(`etcd client has no method ${service}.${method}`);
    const signal = this.signal;
    if (signal?.aborted) return Promise.reject(this.cancelled(`${service}.${method}`));
    return new Promise((resolve, reject) => {
      const call = fn.call(client, req, metadata, { deadline: Date.now() + this.callTimeoutMs }, (err, res) => {
        signal?.removeEventListener("abort", onAbort);
        if (err && signal?.aborted) reject(this.cancelled(`${service}.${method}`));
        else if (err) reject(mapGrpcError(err, this.endpoint.url, `${service}.${method}`, this.serverName));
        else resolve(res);
      }) as unknown as grpc.ClientUnaryCall;
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async put(key: string | Buffer, value: string | Buffer, lease?: string): Promise<number> {
    const res = (await this.unary("KV", "Put", {
      key: Buffer.from(key),
      value: Buffer.from(value),
      lease: lease ?? "0",
    })) as { header: RawHeader };
    return Number(res.header.revision);
  }

  async delete(key: string | Buffer): Promise<number> {
    const res = (await this.unary("KV", "DeleteRange", { key: Buffer.from(key) })) as { deleted: string };
    return Number(res.deleted);
  }

  /**
   * Watches every key from `startRevision`, one batch per WatchResponse (a revision's events are never
   * split across batches: fragmenting is off). Reading is pulled: while the caller does not ask for the
   * next batch, grpc-js stops reading and HTTP/2 flow control holds etcd back, so memory stays bounded.
   * A watch that etcd cancels (compacted revision) ends with a WatchCompactedError.
   */
  async *watchAll(
    startRevision: number,
    signal: AbortSignal | undefined = this.signal,
    progress?: WatchProgress,
  ): AsyncGenerator<WatchBatch> {
    const watch = this.clients.Watch as unknown as {
      Watch(meta: grpc.Metadata): grpc.ClientDuplexStream<object, RawWatchResponse>;
    };
    if (signal?.aborted) throw this.cancelled("Watch.Watch");
    // Require-leader (clientv3's WithRequireLeader): a member that has lost its leader (cut off from
    // the others) cancels the watch instead of serving a history that has stopped while the cluster's
    // goes on.
    const meta = this.metadata.clone();
    meta.set("hasleader", "true");
    const call = watch.Watch(meta);
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    call.write({
      create_request: { key: Buffer.from([0]), range_end: Buffer.from([0]), start_revision: String(startRevision) },
    });
    if (progress) progress.request = () => call.write({ progress_request: {} });
    try {
      for await (const res of call as AsyncIterable<RawWatchResponse>) {
        if (Number(res.compact_revision) > 0)
          throw new WatchCompactedError(startRevision, Number(res.compact_revision), this.endpoint.url);
        if (res.canceled)
          throw new EtcdError(
            `etcd at ${this.endpoint.url} cancelled the watch: ${res.cancel_reason || "no reason given"}`,
          );
        if (res.created && res.events.length === 0) continue;
        yield {
          headerRevision: Number(res.header?.revision ?? 0),
          events: res.events.map((e) => ({
            type: e.type === "DELETE" ? ("delete" as const) : ("put" as const),
            key: e.kv.key,
            value: e.type === "DELETE" ? Buffer.alloc(0) : e.kv.value,
            revision: Number(e.kv.mod_revision),
            lease: e.type === "DELETE" ? "0" : e.kv.lease || "0",
          })),
        };
      }
      if (signal?.aborted) throw this.cancelled("Watch.Watch");
      throw new EtcdError(`the watch on etcd at ${this.endpoint.url} ended without an error`);
    } catch (err) {
      if (err instanceof WatchCompactedError || err instanceof EtcdError) throw err;
      if (signal?.aborted) throw this.cancelled("Watch.Watch");
      if (isServiceError(err)) throw mapGrpcError(err, this.endpoint.url, "Watch.Watch", this.serverName);
      throw new EtcdError(`the watch on etcd at ${this.endpoint.url} failed: ${describe(err)}`, { cause: err });
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  async compact(revision: number): Promise<void> {
    await this.unary("KV", "Compact", { revision: String(revision), physical: true });
  }

  /** Grants a lease (etcd picks the ID unless `id` names one); returns its ID as a decimal string. */
  async leaseGrant(ttlSeconds: number, id = "0"): Promise<string> {
    const res = (await this.unary("Lease", "LeaseGrant", { TTL: String(ttlSeconds), ID: id })) as {
      ID: string;
      error: string;
    };
    if (res.error) throw new EtcdError(`etcd at ${this.endpoint.url} did not grant lease ${id}: ${res.error}`);
    return res.ID;
  }

  /** The TTL a lease was granted with, in seconds; undefined when it no longer exists (expired or revoked). */
  async leaseGrantedTtl(id: string): Promise<number | undefined> {
    const res = (await this.unary("Lease", "LeaseTimeToLive", { ID: id, keys: false })) as {
      TTL: string;
      grantedTTL: string;
    };
    return Number(res.TTL) < 0 ? undefined : Number(res.grantedTTL);
  }

  /** Every lease's ID (decimal strings). */
  async leaseIds(): Promise<string[]> {
    const res = (await this.unary("Lease", "LeaseLeases", {})) as { leases: Array<{ ID: string }> };
    return res.leases.map((l) => l.ID);
  }

  /**
   * Keeps the leases `ids()` names alive until `signal`: one keep-alive stream, each lease refreshed
   * every `everyMs`. Failures of the stream end it quietly: the caller learns of a lost lease by what etcd does.
   */
  keepLeasesAlive(ids: () => Iterable<string>, everyMs: number, signal: AbortSignal): void {
    const lease = this.clients.Lease as unknown as {
      LeaseKeepAlive(meta: grpc.Metadata): grpc.ClientDuplexStream<object, unknown>;
    };
    const call = lease.LeaseKeepAlive(this.metadata);
    call.on("data", () => {});
    call.on("error", () => {});
    const send = () => {
      for (const id of ids()) call.write({ ID: id });
    };
    send();
    const timer = setInterval(send, everyMs);
    signal.addEventListener(
      "abort",
      () => {
        clearInterval(timer);
        call.cancel();
      },
      { once: true },
    );
  }

  /** All live keys under `prefix` (values included), at the current revision. */
  async getPrefix(prefix: string | Buffer): Promise<{ revision: number; kvs: KeyValue[] }> {
    const key = Buffer.from(prefix);
    const res = (await this.unary("KV", "Range", { key, range_end: prefixEnd(key) })) as {
      header: RawHeader;
      kvs: RawKeyValue[];
    };
    return {
      revision: Number(res.header.revision),
      kvs: res.kvs.map(toKeyValue),
    };
  }

  /**
   * One page of a range read: keys from `key` (inclusive) to `rangeEnd` (exclusive; a single 0 byte
   * means "to the end of the keyspace"), in key order, at `revision` (0: the current one), at most
   * `limit` keys (0: no limit). `more` says whether keys remain after the last one returned.
   */
  async range(request: RangeRequest): Promise<RangePage> {
    const res = (await this.unary("KV", "Range", {
      key: request.key,
      range_end: request.rangeEnd,
      limit: String(request.limit ?? 0),
      revision: String(request.revision ?? 0),
    })) as { header: RawHeader; kvs: RawKeyValue[]; more: boolean };
    return { revision: Number(res.header.revision), kvs: res.kvs.map(toKeyValue), more: res.more };
  }

  /**
   * The cluster's current revision, read linearizably (a Range goes through the leader's read index
   * unless asked to be serializable): unlike a member's own status or watch, a member behind the
   * others or cut off from them cannot answer it with its stale revision; it fails instead.
   */
  async clusterRevision(): Promise<number> {
    const res = (await this.unary("KV", "Range", {
      key: Buffer.from([0]),
      count_only: true,
    })) as { header: RawHeader };
    return Number(res.header.revision);
  }

  /** Number of live keys under `prefix` (all keys for an empty prefix), at `revision` (0: the current one). */
  async count(prefix: string | Buffer = Buffer.from([0]), revision = 0): Promise<number> {
    const key = Buffer.from(prefix);
    const res = (await this.unary("KV", "Range", {
      key,
      range_end: key.length === 1 && key[0] === 0 ? Buffer.from([0]) : prefixEnd(key),
      count_only: true,
      revision: String(revision),
    })) as { count: string };
    return Number(res.count);
  }

  /**
   * Maintenance.HashKV: the member's CRC-32C of its MVCC keys and values up to `revision` (0: the
   * current one), with the revision it was at and its compacted revision, as etcd reports them.
   */
  async hashKv(revision: number): Promise<HashKv> {
    const res = (await this.unary("Maintenance", "HashKV", { revision: String(revision) })) as {
      header: RawHeader;
      hash: number;
      compact_revision: string;
    };
    return {
      hash: res.hash >>> 0,
      revision: Number(res.header.revision),
      compactRevision: Number(res.compact_revision),
    };
  }

  async memberList(): Promise<Member[]> {
    const res = (await this.unary("Cluster", "MemberList", {})) as { members: RawMember[] };
    return res.members.map((m) => ({
      id: hexId(m.ID),
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: m.isLearner,
    }));
  }

  async status(): Promise<MemberStatus> {
    const s = (await this.unary("Maintenance", "Status", {})) as RawStatus;
    return {
      endpoint: this.endpoint.url,
      memberId: hexId(s.header.member_id),
      clusterId: hexId(s.header.cluster_id),
      version: s.version,
      dbSize: Number(s.dbSize),
      dbSizeInUse: Number(s.dbSizeInUse),
      leaderId: hexId(s.leader),
      isLeader: s.leader === s.header.member_id,
      isLearner: s.isLearner,
      raftIndex: Number(s.raftIndex),
      raftTerm: Number(s.raftTerm),
      revision: Number(s.header.revision),
      errors: s.errors,
    };
  }

  /**
   * Streams Maintenance.Snapshot: the bbolt image in chunks, then etcd's 32-byte SHA-256 of it.
   * Aborting `signal` (or the client's) cancels the stream. Errors arrive as EtcdError (or
   * CancelledError) from the iterator.
   */
  async *snapshot(signal: AbortSignal | undefined = this.signal): AsyncGenerator<SnapshotChunk> {
    const maintenance = this.clients.Maintenance as unknown as {
      Snapshot(req: object, meta: grpc.Metadata): grpc.ClientReadableStream<RawSnapshotChunk>;
    };
    const call = maintenance.Snapshot({}, this.metadata);
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of call as AsyncIterable<RawSnapshotChunk>) {
        yield { blob: chunk.blob, remaining: Number(chunk.remaining_bytes) };
      }
    } catch (err) {
      if (signal?.aborted) throw new CancelledError(`snapshot stream from ${this.endpoint.url} was cancelled`);
      if (isServiceError(err)) throw mapGrpcError(err, this.endpoint.url, "Maintenance.Snapshot", this.serverName);
      throw new EtcdError(`snapshot stream from ${this.endpoint.url} failed: ${describe(err)}`, { cause: err });
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }
}

/** One change of a replayed revision (TxnChannel.txn). */
export type TxnOp =
  | { readonly type: "put"; readonly key: Buffer; readonly value: Buffer; readonly lease?: string }
  | { readonly type: "delete"; readonly key: Buffer };

/** One key's change as the watch reports it (a delete's value is empty). */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: Buffer;
  readonly value: Buffer;
  readonly revision: number;
  /** The lease the key was put with (decimal int64; "0": none, and always "0" for a delete). */
  readonly lease: string;
}

/**
 * Filled in by watchAll: `request()` asks etcd for a progress report, which comes as a batch without
 * events whose header revision etcd had reached (etcd 3.4 reports its store's revision, which may be
 * ahead of events still on their way: only a report equal to the last revision received says that
 * nothing is missing).
 */
export interface WatchProgress {
  request?: () => void;
}

export interface WatchBatch {
  readonly headerRevision: number;
  readonly events: readonly WatchEvent[];
}

/** etcd no longer has the revision the watch asked to start from. */
export class WatchCompactedError extends EtcdError {
  constructor(
    readonly startRevision: number,
    readonly compactRevision: number,
    endpoint: string,
  ) {
    super(
      `etcd at ${endpoint} has compacted revision ${startRevision} away (compacted up to ${compactRevision}): the watch cannot resume there`,
    );
  }
}

interface RawWatchResponse {
  header?: RawHeader;
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  events: Array<{ type: string; kv: RawKeyValue }>;
}

function toKeyValue(kv: RawKeyValue): KeyValue {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease,
  };
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === "object" && err !== null && "code" in err && "details" in err;
}

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] as number;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // prefix of all 0xff bytes: to the end of the keyspace
}

/** etcd's refusals of a token that was valid once: expired (or lost with a restart), or older than the auth store. */
function isStaleToken(cause: unknown): boolean {
  if (!isServiceError(cause)) return false;
  const details = cause.details || cause.message;
  return (
    (cause.code === grpc.status.UNAUTHENTICATED && /invalid auth token/.test(details)) ||
    (cause.code === grpc.status.INVALID_ARGUMENT && /revision of auth store is old/.test(details))
  );
}
