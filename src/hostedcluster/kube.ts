import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  VersionApi,
} from "@kubernetes/client-node";
import { CancelledError, describe, type HcpError, OperationError, UsageError } from "../errors.js";
import type { DateSample } from "./server-clock.js";

/** Where the credentials come from, resolved as kubectl resolves them. */
export interface KubeAccess {
  /** --kubeconfig; else KUBECONFIG; else ~/.kube/config; else the pod's service account. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Root for the in-cluster files (tests run a Job's command line locally); default "/". */
  readonly inClusterRoot?: string;
}

const SA_DIR = "var/run/secrets/kubernetes.io/serviceaccount";

export function loadKubeConfig(access: KubeAccess = {}): KubeConfig {
  const kc = new KubeConfig();
  const root = access.inClusterRoot ?? "/";
  try {
    if (access.kubeconfig) kc.loadFromFile(access.kubeconfig);
    else if (process.env.KUBECONFIG || existsSync(join(homedir(), ".kube", "config"))) kc.loadFromDefault();
    else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(root, SA_DIR, "token"))) {
      // client-node joins its absolute paths onto the prefix: "/" would make "//var/...".
      kc.loadFromCluster(root === "/" ? "" : root);
    } else {
      throw new UsageError(
        "no Kubernetes credentials: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account",
      );
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const file = access.kubeconfig ?? process.env.KUBECONFIG ?? "~/.kube/config";
    throw new UsageError(`cannot load the kubeconfig ${file}: ${firstLine(err)}`, { cause: err });
  }
  if (access.context) {
    if (!kc.getContexts().some((c) => c.name === access.context)) {
      throw new UsageError(
        `no context "${access.context}" in the kubeconfig; it has: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        }`,
      );
    }
    kc.setCurrentContext(access.context);
  }
  if (!kc.getCurrentCluster()) throw new UsageError("the kubeconfig has no current context: pass --context NAME");
  return kc;
}

/** What a request was: for messages that say which verb on which resource failed (RBAC speaks that way). */
export interface KubeRequest {
  readonly verb: "get" | "list" | "patch" | "update" | "watch" | "create" | "delete";
  /** Resource as RBAC names it: `hostedclusters`, `deployments/scale`, `secrets`. */
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
}

/** A failed Kubernetes request that may succeed when retried (5xx, 429, 409, a dropped connection). */
export class KubeTransientError extends OperationError {}

/** 409: the object changed since it was read (a resourceVersion precondition failed). */
export class KubeConflictError extends KubeTransientError {}

/** 404: the object (or its namespace) does not exist; decided by the status code, never by the message. */
export class KubeNotFoundError extends OperationError {}

/**
 * The API server could not be talked to at all: connection refused, its name not found, or its TLS
 * certificate not trusted. Worth retrying once it has answered before (a restart, a DNS blip); on the
 * first call it almost always means a wrong kubeconfig, which waiting does not fix.
 */
export class KubeUnreachableError extends KubeTransientError {}

/** Node's codes for a certificate the client does not trust (or a TLS handshake that failed). */
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "EPROTO",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

function unreachableError(
  code: string | undefined,
  err: unknown,
  server: string,
  what: string,
): KubeUnreachableError | undefined {
  const fix = "check the server in the kubeconfig (--kubeconfig, --context) and that the API server is up";
  if (code === "ECONNREFUSED")
    return new KubeUnreachableError(
      `cannot reach the Kubernetes API at ${server} to ${what}: connection refused (ECONNREFUSED): ${fix}`,
      { cause: err },
    );
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new KubeUnreachableError(
      `cannot reach the Kubernetes API at ${server} to ${what}: its host name does not resolve (${code}): check the server in the kubeconfig (--kubeconfig, --context) and DNS`,
      { cause: err },
    );
  if (code !== undefined && TLS_CODES.has(code)) {
    // Node's reason says which check failed ("unable to verify the first certificate"); the code names it.
    const reason = /reason: (.*)$/.exec(firstLine(err))?.[1] ?? code;
    return new KubeUnreachableError(
      `cannot talk TLS to the Kubernetes API at ${server} to ${what}: ${reason} (${code}): the kubeconfig's certificate-authority-data must be the CA that signed the API server's certificate for that address (--kubeconfig, --context)`,
      { cause: err },
    );
  }
  return undefined;
}

/** One line from a client-node failure: who refused what, and what to do. */
export function kubeError(err: unknown, req: KubeRequest, server: string): HcpError {
  if (err instanceof OperationError || err instanceof UsageError) return err;
  const what = `${req.verb} ${req.resource}${req.name ? ` "${req.name}"` : ""} in namespace ${req.namespace}`;
  if (err instanceof ApiException) {
    const message = statusMessage(err.body) ?? `HTTP ${err.code}`;
    switch (err.code) {
      case 401:
        return new OperationError(`the Kubernetes API at ${server} refused our credentials (${what}): log in again`, {
          cause: err,
        });
      case 403:
        return new OperationError(`not allowed to ${what}: ${message}`, { cause: err });
      case 404:
        // A create names no existing object: its namespace (or the resource itself) is what is missing.
        if (req.verb === "create") return new KubeNotFoundError(`cannot ${what}: ${message}`, { cause: err });
        return new KubeNotFoundError(`${req.resource} "${req.name ?? "?"}" not found in namespace ${req.namespace}`, {
          cause: err,
        });
      case 409:
        return new KubeConflictError(`conflict on ${what} (changed meanwhile): ${message}`, { cause: err });
      case 422:
        return new OperationError(`the Kubernetes API rejected ${what}: ${message}`, { cause: err });
      default:
        if (err.code === 429 || err.code >= 500)
          return new KubeTransientError(`the Kubernetes API failed ${what} (${err.code}): ${message}`, { cause: err });
        return new OperationError(`the Kubernetes API refused ${what} (${err.code}): ${message}`, { cause: err });
    }
  }
  const code = (err as { code?: string }).code;
  const unreachable = unreachableError(code, err, server, what);
  if (unreachable) return unreachable;
  if (code === "EHOSTUNREACH" || code === "ETIMEDOUT")
    return new KubeTransientError(`cannot reach the Kubernetes API at ${server} (${code}) to ${what}`, { cause: err });
  return new KubeTransientError(`the Kubernetes API at ${server} failed to ${what}: ${firstLine(err)}`, { cause: err });
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.split("\n")[0];
    }
  }
  const m = (parsed as { message?: unknown } | null)?.message;
  return typeof m === "string" ? m : undefined;
}

function firstLine(err: unknown): string {
  return describe(err).split("\n")[0] ?? "";
}

/** client-node's dynamic client, with its discovery lookup (cached per apiVersion) made public. */
class ObjectClient extends KubernetesObjectApi {
  /** As KubernetesObjectApi.makeApiClient does, for the subclass. */
  static make(config: KubeConfig): ObjectClient {
    const client = config.makeApiClient(ObjectClient);
    client.setDefaultNamespace(config);
    return client;
  }

  lookup(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }
}

const HYPERSHIFT = { group: "hypershift.openshift.io", version: "v1beta1" } as const;
const mergePatch = () => setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * The management cluster, as the backup uses it: every call names what it does for the error
 * map, honours the signal, and returns plain JSON objects that the callers validate.
 */
export class ManagementCluster {
  readonly server: string;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly version: VersionApi;
  private readonly coordination: CoordinationV1Api;
  private readonly objects: ObjectClient;

  constructor(readonly config: KubeConfig) {
    this.server = config.getCurrentCluster()?.server ?? "(no server)";
    this.core = config.makeApiClient(CoreV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.version = config.makeApiClient(VersionApi);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.objects = ObjectClient.make(config);
  }

  /** A coordination.k8s.io Lease, or undefined when there is none. */
  async readLease(namespace: string, name: string, signal?: AbortSignal): Promise<V1Lease | undefined> {
    try {
      return await this.call({ verb: "get", resource: "leases", namespace, name }, signal, () =>
        this.coordination.readNamespacedLease({ namespace, name }),
      );
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
  }

  /** Creates a Lease; a KubeConflictError when one of that name appeared meanwhile. */
  createLease(namespace: string, lease: V1Lease, signal?: AbortSignal): Promise<V1Lease> {
    const name = lease.metadata?.name;
    return this.call({ verb: "create", resource: "leases", namespace, ...(name ? { name } : {}) }, signal, () =>
      this.coordination.createNamespacedLease({ namespace, body: lease }),
    );
  }

  /** Replaces a Lease; its metadata.resourceVersion makes it a compare-and-swap (KubeConflictError when stale). */
  replaceLease(namespace: string, lease: V1Lease, signal?: AbortSignal): Promise<V1Lease> {
    const name = lease.metadata?.name ?? "";
    return this.call({ verb: "update", resource: "leases", namespace, name }, signal, () =>
      this.coordination.replaceNamespacedLease({ namespace, name, body: lease }),
    );
  }

  /** The `Date` header of a GET /version (readable by every authenticated user), with when we asked. */
  dateSample(signal?: AbortSignal): Promise<DateSample> {
    return this.call({ verb: "get", resource: "version", namespace: "(cluster)" }, signal, async () => {
      const sentAt = Date.now();
      const info = await this.version.getCodeWithHttpInfo();
      return { date: info.headers.date, sentAt, receivedAt: Date.now() };
    });
  }

  private async call<T>(req: KubeRequest, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new CancelledError(`${req.verb} ${req.resource} was cancelled`);
    try {
      return await work();
    } catch (err) {
      throw kubeError(err, req, this.server);
    }
  }

  getHostedCluster(namespace: string, name: string, signal?: AbortSignal): Promise<unknown> {
    return this.call({ verb: "get", resource: "hostedclusters", namespace, name }, signal, () =>
      this.custom.getNamespacedCustomObject({ ...HYPERSHIFT, plural: "hostedclusters", namespace, name }),
    );
  }

  /** HostedClusters in one namespace, or in all (`namespace` undefined), matching a label selector. */
  listHostedClusters(namespace: string | undefined, labelSelector?: string, signal?: AbortSignal): Promise<unknown> {
    const req = { verb: "list", resource: "hostedclusters", namespace: namespace ?? "(all namespaces)" } as const;
    return this.call(req, signal, () =>
      namespace === undefined
        ? this.custom.listClusterCustomObject({ ...HYPERSHIFT, plural: "hostedclusters", labelSelector })
        : this.custom.listNamespacedCustomObject({ ...HYPERSHIFT, plural: "hostedclusters", namespace, labelSelector }),
    );
  }

  patchHostedCluster(namespace: string, name: string, body: object, signal?: AbortSignal): Promise<unknown> {
    return this.call({ verb: "patch", resource: "hostedclusters", namespace, name }, signal, () =>
      this.custom.patchNamespacedCustomObject(
        { ...HYPERSHIFT, plural: "hostedclusters", namespace, name, body },
        mergePatch(),
      ),
    );
  }

  getHostedControlPlane(namespace: string, name: string, signal?: AbortSignal): Promise<unknown> {
    return this.call({ verb: "get", resource: "hostedcontrolplanes", namespace, name }, signal, () =>
      this.custom.getNamespacedCustomObject({ ...HYPERSHIFT, plural: "hostedcontrolplanes", namespace, name }),
    );
  }

  getStatefulSet(namespace: string, name: string, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "statefulsets", namespace, name }, signal, () =>
      this.apps.readNamespacedStatefulSet({ namespace, name }),
    );
  }

  getDeployment(namespace: string, name: string, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "deployments", namespace, name }, signal, () =>
      this.apps.readNamespacedDeployment({ namespace, name }),
    );
  }

  getDeploymentScale(namespace: string, name: string, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "deployments/scale", namespace, name }, signal, () =>
      this.apps.readNamespacedDeploymentScale({ namespace, name }),
    );
  }

  scaleDeployment(namespace: string, name: string, replicas: number, signal?: AbortSignal) {
    return this.call({ verb: "patch", resource: "deployments/scale", namespace, name }, signal, () =>
      this.apps.patchNamespacedDeploymentScale({ namespace, name, body: { spec: { replicas } } }, mergePatch()),
    );
  }

  listPods(namespace: string, labelSelector: string, signal?: AbortSignal) {
    return this.call({ verb: "list", resource: "pods", namespace }, signal, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }),
    );
  }

  /** The last `tailLines` lines a container printed (its newest instance, or the one that just failed). */
  readPodLog(namespace: string, name: string, container: string, tailLines = 200, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "pods/log", namespace, name }, signal, () =>
      this.core.readNamespacedPodLog({ namespace, name, container, tailLines }),
    );
  }

  getSecret(namespace: string, name: string, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "secrets", namespace, name }, signal, () =>
      this.core.readNamespacedSecret({ namespace, name }),
    );
  }

  getConfigMap(namespace: string, name: string, signal?: AbortSignal) {
    return this.call({ verb: "get", resource: "configmaps", namespace, name }, signal, () =>
      this.core.readNamespacedConfigMap({ namespace, name }),
    );
  }

  listPersistentVolumeClaims(namespace: string, signal?: AbortSignal) {
    return this.call({ verb: "list", resource: "persistentvolumeclaims", namespace }, signal, () =>
      this.core.listNamespacedPersistentVolumeClaim({ namespace }),
    );
  }

  // Any kind by apiVersion and kind (what `schedule --apply` and `restore prepare --apply` send):
  // the plural comes from the API server's discovery, so RBAC-style messages name the real resource.

  /** The object, or undefined when the API server answers 404 for it (decided by the status code). */
  async findObject(ref: ObjectRef, signal?: AbortSignal): Promise<KubernetesObject | undefined> {
    const req = await this.objectRequest("get", ref, signal);
    try {
      return await this.call(req, signal, () => this.objects.read(objectKey(ref)));
    } catch (err) {
      if (err instanceof KubeNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Creates the object (a plain JSON object: parsed YAML, rendered JSON); "exists" when the API
   * server answers 409 AlreadyExists, so the caller decides whether that is fine, an update or an error.
   */
  async createObject(obj: KubernetesObject, signal?: AbortSignal): Promise<"created" | "exists"> {
    const req = await this.objectRequest("create", refOf(obj), signal);
    try {
      await this.call(req, signal, () => this.objects.create(asClientModel(obj)));
      return "created";
    } catch (err) {
      if (err instanceof KubeConflictError) return "exists";
      throw err;
    }
  }

  /** Replaces the object with `obj` (update) as of `resourceVersion`: a 409 when it changed since. */
  async replaceObject(obj: KubernetesObject, resourceVersion: string | undefined, signal?: AbortSignal): Promise<void> {
    const req = await this.objectRequest("update", refOf(obj), signal);
    const model = asClientModel(obj);
    await this.call(req, signal, () =>
      this.objects.replace({ ...model, metadata: { ...model.metadata, resourceVersion } }),
    );
  }

  /** Creates the object, or replaces the one already there with it (update at the version just read). */
  async createOrReplaceObject(obj: KubernetesObject, signal?: AbortSignal): Promise<"created" | "replaced"> {
    if ((await this.createObject(obj, signal)) === "created") return "created";
    const ref = refOf(obj);
    const current = await this.findObject(ref, signal);
    if (!current) {
      const req = await this.objectRequest("get", ref, signal);
      throw new KubeTransientError(
        `${req.resource} "${ref.name}" in namespace ${req.namespace} existed on create and was gone on read (deleted meanwhile): run again`,
      );
    }
    await this.replaceObject(obj, current.metadata?.resourceVersion, signal);
    return "replaced";
  }

  /**
   * What an object operation is, for kubeError, with the resource as discovery names it. A kind the
   * API server does not serve (a CRD not installed: discovery answers 404 for its group) is its own
   * error: left to client-node it would be a 404 that reads as "the object does not exist".
   */
  private async objectRequest(
    verb: KubeRequest["verb"],
    ref: ObjectRef,
    signal: AbortSignal | undefined,
  ): Promise<KubeRequest> {
    const namespace = ref.namespace ?? "(cluster scope)";
    // Until discovery answers, messages name the resource as kube-apiserver guesses it from the kind.
    const guess = { verb, resource: guessResource(ref.kind), namespace, name: ref.name };
    const found = await this.call(guess, signal, () =>
      this.objects.lookup(ref.apiVersion, ref.kind).catch((err: unknown) => {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw err;
      }),
    );
    if (!found)
      throw new OperationError(
        `the Kubernetes API at ${this.server} does not serve ${ref.kind} (${ref.apiVersion}), needed to ${verb} "${ref.name}": is its CRD installed (the right cluster: --kubeconfig, --context)?`,
      );
    return { verb, resource: found.name, namespace, name: ref.name };
  }
}

/** Enough to address any object: its apiVersion, kind, name and (for a namespaced kind) namespace. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

function refOf(obj: KubernetesObject): ObjectRef {
  const { apiVersion, kind } = obj;
  const name = obj.metadata?.name;
  if (!apiVersion || !kind || !name)
    // Never the object itself in the message: it may be a Secret.
    throw new UsageError(
      `an object to send to the Kubernetes API needs apiVersion, kind and metadata.name (got kind ${kind || "none"}, name ${name || "none"})`,
    );
  const namespace = obj.metadata?.namespace;
  return { apiVersion, kind, name, ...(namespace ? { namespace } : {}) };
}

/** apimachinery's UnsafeGuessKindToResource: NetworkPolicy -> networkpolicies, Ingress -> ingresses. */
function guessResource(kind: string): string {
  const k = kind.toLowerCase();
  if (k.endsWith("s")) return `${k}es`;
  if (k.endsWith("y")) return `${k.slice(0, -1)}ies`;
  return `${k}s`;
}

function objectKey(ref: ObjectRef) {
  const { apiVersion, kind, name, namespace } = ref;
  return { apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } };
}

/**
 * A plain object (parsed YAML, rendered JSON) as the model client-node's KubernetesObjectApi sends:
 * it serializes its model classes, not plain JSON, and drops a field whose model name differs from
 * the wire name (a NetworkPolicy's `from` is the model's `_from`: the rule would admit every source).
 */
export function asClientModel<T extends KubernetesObject>(obj: T): T {
  return loadYaml<T>(JSON.stringify(obj));
}
