import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createCa, issueCert } from "../localetcd/certs.js";
import { releaseDir } from "../localetcd/reaper.js";
import { SimClock } from "./clock.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from "./discovery.js";
import { FaultInjector, forbidden } from "./faults.js";
import { create, get, type HandlerContext, list, patch, remove, update, type WriteResult } from "./handlers.js";
import type { Json, JsonObject } from "./json.js";
import { meta, stringMap } from "./json.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { JSON_PATCH, MERGE_PATCH, mediaType, STRATEGIC_MERGE_PATCH } from "./patch.js";
import { PodLogs } from "./pod-logs.js";
import { FORWARD_ANNOTATION_PREFIX, PortForwarder } from "./portforward.js";
import { authorize, type ServiceAccountIdentity, serviceAccountUser } from "./rbac.js";
import { parseResourcePath, type ResourceRequest } from "./request-info.js";
import { KubeStatusError } from "./status.js";
import { ObjectStore } from "./store.js";
import { toTable, wantsTable } from "./table.js";
import { makeTempDir } from "./tempdir.js";
import { type OpenWatch, serveWatch } from "./watch.js";

export interface KubeSimServerOptions {
  /** The bearer token clients must send (default: 32 random bytes, hex). */
  readonly token?: string;
  /** Who the token authenticates as; RBAC denials name this user. */
  readonly user?: string;
  /** Parent of the temp directory for the serving certificate and kubeconfig files. */
  readonly baseDir?: string;
  readonly clock?: SimClock;
}

const MAX_BODY = 3 * 1024 * 1024;
// Paths kube-apiserver serves to anonymous clients (system:public-info-viewer).
const PUBLIC_PATHS = new Set(["/version", "/healthz", "/livez", "/readyz"]);

/**
 * An in-process Kubernetes API server over HTTPS on 127.0.0.1: bearer-token auth, discovery, CRUD,
 * watch, three patch types, scale and status subresources, pod port-forward, Status errors with the
 * codes kube-apiserver uses. Behaviours (controllers) attach to `store` and `clock` from outside.
 */
export class KubeApiServer {
  readonly store = new ObjectStore();
  readonly clock: SimClock;
  readonly faults: FaultInjector;
  /** What each container printed, served by `pods/log`; tests write it. */
  readonly logs = new PodLogs();
  readonly token: string;
  readonly user: string;
  /** The serving CA (PEM), as a kubeconfig's certificate-authority-data. */
  readonly caPem: Buffer;
  readonly dir: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private readonly forwarder = new PortForwarder();
  /** Service-account tokens: requests with one are authorized by RBAC (the admin token is not). */
  private readonly accounts = new Map<string, ServiceAccountIdentity>();
  private port = 0;
  private stopped = false;
  /**
   * Every answer carries a `Date` header from the simulated clock, as kube-apiserver's carry its
   * host's time; false stands for a proxy in front of it that drops the header.
   */
  sendsDate = true;

  private constructor(dir: string, caPem: Buffer, key: Buffer, cert: Buffer, options: KubeSimServerOptions) {
    this.dir = dir;
    this.caPem = caPem;
    this.token = options.token ?? randomBytes(32).toString("hex");
    this.user = options.user ?? "kubesim-admin";
    this.clock = options.clock ?? new SimClock();
    this.faults = new FaultInjector(this.user);
    this.server = createServer({ key, cert }, (req, res) => this.handle(req, res));
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  static async start(options: KubeSimServerOptions = {}): Promise<KubeApiServer> {
    const dir = await makeTempDir(options.baseDir);
    try {
      const ca = await createCa(dir, "kubesim-ca");
      const leaf = await issueCert(dir, ca, "apiserver", "kube-apiserver", "server");
      const [caPem, key, cert] = await Promise.all([readFile(ca.cert), readFile(leaf.key), readFile(leaf.cert)]);
      const s = new KubeApiServer(dir, caPem, key, cert, options);
      await new Promise<void>((resolve, reject) => {
        s.server.once("error", reject);
        s.server.listen(0, "127.0.0.1", () => resolve());
      });
      s.port = (s.server.address() as AddressInfo).port;
      return s;
    } catch (err) {
      releaseDir(dir);
      throw err;
    }
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Watch streams open now: lets a test wait until a client's watch is established. */
  get openWatches(): number {
    return this.watches.size;
  }

  /** Writes a kubeconfig (server, CA data, token, one context) for kubectl and client-node; returns its path. */
  async kubeconfig(path = `${this.dir}/kubeconfig`): Promise<string> {
    await writeKubeconfig(path, { server: this.url, caPem: this.caPem, token: this.token, user: this.user });
    return path;
  }

  /**
   * A bearer token for a service account, as the kubelet mounts into a pod: requests with it are
   * allowed only as far as the Roles and ClusterRoles bound to the account allow.
   */
  serviceAccountToken(namespace: string, name: string): string {
    const token = randomBytes(32).toString("hex");
    this.accounts.set(token, { namespace, name });
    return token;
  }

  /** Closes the listener, every connection, watch and forwarded port, and removes the temp directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of [...this.watches]) w.close();
    this.forwarder.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    releaseDir(this.dir);
  }

  private authenticate(req: IncomingMessage, path: string): KubeStatusError | undefined {
    const header = req.headers.authorization;
    if (header === undefined && PUBLIC_PATHS.has(path)) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (m?.[1] === this.token || this.accounts.has(m?.[1] ?? "")) return undefined;
    return new KubeStatusError(401, "Unauthorized", "Unauthorized");
  }

  /** 403 unless the request's service account (if any) is allowed by RBAC. */
  private authorizeRequest(req: IncomingMessage, r: ResourceRequest): void {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const sa = this.accounts.get(token);
    if (sa && !authorize(this.store, sa, r)) throw forbidden(r, serviceAccountUser(sa));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (e: KubeStatusError): void => {
      const body = JSON.stringify(e.toStatus());
      socket.end(
        `HTTP/1.1 ${e.code} ${e.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    try {
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      const denied = this.authenticate(req, url.pathname);
      if (denied) {
        refuse(denied);
        return;
      }
      const r = parseResourcePath(url.pathname, "POST", false);
      if (r?.subresource !== "portforward" || r.name === undefined) {
        refuse(new KubeStatusError(400, "BadRequest", "only pods/portforward upgrades to a WebSocket"));
        return;
      }
      this.authorizeRequest(req, { ...r, verb: "create" });
      const fault = this.faults.take({ ...r, verb: "create" });
      if (fault) {
        refuse(fault);
        return;
      }
      const pod = this.store.mustGet(r.rt, r.namespace, r.name);
      const ports = url.searchParams.getAll("ports").flatMap((p) => p.split(","));
      const port = Number(ports[0]);
      if (ports.length !== 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
        refuse(new KubeStatusError(400, "BadRequest", 'query parameter "ports" must name exactly one port'));
        return;
      }
      const backing = Number(stringMap(meta(pod).annotations)[`${FORWARD_ANNOTATION_PREFIX}${port}`]);
      this.forwarder.upgrade(req, socket, head, port, Number.isInteger(backing) ? backing : undefined);
    } catch (err) {
      refuse(err instanceof KubeStatusError ? err : new KubeStatusError(500, "InternalError", String(err)));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.sendDate = false;
    if (this.sendsDate) res.setHeader("Date", this.clock.now().toUTCString());
    this.serve(req, res).catch((err: unknown) => {
      const e = err instanceof KubeStatusError ? err : new KubeStatusError(500, "InternalError", describeError(err));
      if (!res.headersSent) send(res, e.code, e.toStatus());
      else res.destroy();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const denied = this.authenticate(req, path);
    if (denied) throw denied;
    const method = req.method ?? "GET";
    const discovery = this.discovery(path);
    if (discovery !== undefined) {
      if (method !== "GET")
        throw new KubeStatusError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
      if (discovery === null)
        throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource");
      return send(res, 200, discovery);
    }
    const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
    const r = parseResourcePath(path, method, watch);
    if (!r) throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource");
    this.authorizeRequest(req, r);
    const fault = this.faults.take(r);
    if (fault) throw fault;
    const ctx: HandlerContext = { store: this.store, clock: this.clock };
    const table = wantsTable(req.headers.accept);
    const strict = url.searchParams.get("fieldValidation") === "Strict";
    switch (r.verb) {
      case "get": {
        if (r.subresource === "log") {
          const pod = this.store.mustGet(r.rt, r.namespace, r.name as string);
          return sendText(res, this.logs.read(pod, url.searchParams));
        }
        const obj = get(ctx, r);
        return send(
          res,
          200,
          table && !r.subresource ? toTable(r.rt, [obj], String(meta(obj).resourceVersion), this.clock) : obj,
        );
      }
      case "list": {
        const l = list(ctx, r, url.searchParams);
        const items = l.items as JsonObject[];
        return send(res, 200, table ? toTable(r.rt, items, String(this.store.resourceVersion), this.clock) : l);
      }
      case "watch": {
        const w = serveWatch(res, {
          store: this.store,
          clock: this.clock,
          req: r,
          query: url.searchParams,
          asTable: table,
          onEnd: () => this.watches.delete(w),
        });
        this.watches.add(w);
        return;
      }
      case "create":
        return sendWrite(res, create(ctx, r, await readJson(req, ["application/json", ""]), { strict }));
      case "update":
        return sendWrite(res, update(ctx, r, await readJson(req, ["application/json", ""]), { strict }));
      case "patch": {
        const type = patchType(r, req.headers["content-type"]);
        return sendWrite(res, patch(ctx, r, await readJson(req, [type]), type, { strict }));
      }
      case "delete":
        return send(res, 200, remove(ctx, r));
    }
  }

  /** The discovery document for `path`; null for an unknown group version; undefined when `path` is not discovery. */
  private discovery(path: string): JsonObject | null | undefined {
    if (path === "/version") return versionInfo();
    if (path === "/api") return apiVersions(`127.0.0.1:${this.port}`);
    if (path === "/apis") return apiGroupList();
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return { status: "ok" };
    if (path.startsWith("/openapi")) return null;
    const core = /^\/api\/([^/]+)$/.exec(path);
    if (core) return apiResourceList("", core[1] as string) ?? null;
    const group = /^\/apis\/([^/]+)$/.exec(path);
    if (group) return apiGroup(group[1] as string) ?? null;
    const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (gv) return apiResourceList(gv[1] as string, gv[2] as string) ?? null;
    return undefined;
  }
}

function patchType(r: ResourceRequest, contentType: string | undefined): string {
  const t = mediaType(contentType);
  const accepted = [
    JSON_PATCH,
    MERGE_PATCH,
    ...(r.rt.builtin || r.subresource === "scale" ? [STRATEGIC_MERGE_PATCH] : []),
  ];
  if (!accepted.includes(t)) {
    throw new KubeStatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
    );
  }
  return t;
}

async function readJson(req: IncomingMessage, accepted: readonly string[]): Promise<Json> {
  const type = mediaType(req.headers["content-type"]);
  if (!accepted.includes(type)) {
    req.resume();
    throw new KubeStatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${accepted.filter((a) => a !== "").join(", ")}`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new KubeStatusError(413, "BadRequest", "Request entity too large: limit is 3145728");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new KubeStatusError(400, "BadRequest", `error decoding request body: ${describeError(err)}`);
  }
}

function send(
  res: ServerResponse,
  code: number,
  body: JsonObject,
  headers: Record<string, string | string[]> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** kubelet's container log: plain text, as `kubectl logs` and client-node's readNamespacedPodLog expect. */
function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendWrite(res: ServerResponse, w: WriteResult): void {
  const warnings = w.warnings.map((m) => `299 - ${JSON.stringify(m)}`);
  send(res, w.code, w.body, warnings.length > 0 ? { Warning: warnings } : {});
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
