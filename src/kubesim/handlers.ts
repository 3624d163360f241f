import { randomBytes } from "node:crypto";
import { admit, checkTypeMeta } from "./admission.js";
import type { SimClock } from "./clock.js";
import { invalid } from "./field-errors.js";
import { clone, isObject, type Json, type JsonObject, meta } from "./json.js";
import { JSON_PATCH, jsonPatch, MERGE_PATCH, mergePatch, STRATEGIC_MERGE_PATCH, strategicMergePatch } from "./patch.js";
import type { ResourceRequest } from "./request-info.js";
import { apiVersionOf, RESOURCES, type ResourceType, resourceByKind } from "./resources.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { KubeStatusError, successStatus } from "./status.js";
import { conflict, notFound, type ObjectStore } from "./store.js";

export interface HandlerContext {
  readonly store: ObjectStore;
  readonly clock: SimClock;
}

export interface WriteOptions {
  readonly strict: boolean;
}

export interface WriteResult {
  readonly code: number;
  readonly body: JsonObject;
  readonly warnings: readonly string[];
}

function withType(rt: ResourceType, obj: JsonObject): JsonObject {
  return { apiVersion: apiVersionOf(rt), kind: rt.kind, ...obj };
}

function requireName(req: ResourceRequest): string {
  if (req.name === undefined) throw new KubeStatusError(405, "MethodNotAllowed", "a name is required for this verb");
  return req.name;
}

function namespaceOf(req: ResourceRequest): string | undefined {
  return req.rt.namespaced ? req.namespace : undefined;
}

export function get(ctx: HandlerContext, req: ResourceRequest): JsonObject {
  const obj = ctx.store.mustGet(req.rt, namespaceOf(req), requireName(req));
  return req.subresource === "scale" ? toScale(req.rt, obj) : obj;
}

export function list(ctx: HandlerContext, req: ResourceRequest, query: URLSearchParams): JsonObject {
  const labels = parseLabelSelector(query.get("labelSelector"));
  const fields = parseFieldSelector(query.get("fieldSelector"));
  const items = ctx.store.list(req.rt, namespaceOf(req)).filter((o) => labels(o) && fields(o));
  return {
    kind: `${req.rt.kind}List`,
    apiVersion: apiVersionOf(req.rt),
    metadata: { resourceVersion: String(ctx.store.resourceVersion) },
    items,
  };
}

function checkNamespace(ctx: HandlerContext, req: ResourceRequest, obj: JsonObject): void {
  if (!req.rt.namespaced) {
    delete meta(obj).namespace;
    return;
  }
  const m = meta(obj);
  if (m.namespace !== undefined && m.namespace !== req.namespace) {
    throw new KubeStatusError(
      400,
      "BadRequest",
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
  m.namespace = req.namespace ?? null;
  if (req.namespace === undefined)
    throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource");
  if (!ctx.store.get(resourceByKind("Namespace"), undefined, req.namespace)) {
    throw notFound(resourceByKind("Namespace"), req.namespace);
  }
}

/** Defaults the built-in kinds get from their Go types and defaulting functions (the few the simulator needs). */
function defaultBuiltin(rt: ResourceType, obj: JsonObject): void {
  if ((rt.resource === "deployments" || rt.resource === "statefulsets") && isObject(obj.spec)) {
    if (obj.spec.replicas === undefined) obj.spec.replicas = 1;
  }
  if (rt.resource === "secrets" && obj.type === undefined) obj.type = "Opaque";
  if (rt.resource === "pods" && !isObject(obj.status)) obj.status = { phase: "Pending" };
  if (rt.resource === "namespaces") obj.status = { phase: "Active" };
}

export function create(ctx: HandlerContext, req: ResourceRequest, body: Json, options: WriteOptions): WriteResult {
  if (req.name !== undefined) throw new KubeStatusError(405, "MethodNotAllowed", "create takes no name in the URL");
  if (!isObject(body)) throw new KubeStatusError(400, "BadRequest", "the body of a create must be a JSON object");
  checkTypeMeta(req.rt, body, apiVersionOf(req.rt));
  const obj = withType(req.rt, clone(body));
  const m = meta(obj);
  if ((m.name === undefined || m.name === "") && typeof m.generateName === "string") {
    m.name = `${m.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
  }
  for (const k of ["uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp"]) delete m[k];
  checkNamespace(ctx, req, obj);
  if (req.rt.statusSubresource) delete obj.status;
  defaultBuiltin(req.rt, obj);
  const admitted = admit(req.rt, obj, undefined, options);
  return { code: 201, body: ctx.store.create(req.rt, admitted.object, ctx.clock.now()), warnings: admitted.warnings };
}

/** Validates and stores `next` as the new state of `current`; the subresource decides which part may change. */
function write(
  ctx: HandlerContext,
  req: ResourceRequest,
  current: JsonObject,
  next: JsonObject,
  options: WriteOptions,
): WriteResult {
  const name = requireName(req);
  let merged: JsonObject;
  if (req.subresource === "status") {
    merged = clone(current);
    if (next.status === undefined) delete merged.status;
    else merged.status = clone(next.status);
  } else {
    merged = withType(req.rt, clone(next));
    if (req.rt.statusSubresource) {
      if (current.status === undefined) delete merged.status;
      else merged.status = clone(current.status);
    }
  }
  const m = meta(merged);
  if (m.name !== name) {
    throw new KubeStatusError(
      400,
      "BadRequest",
      `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
    );
  }
  checkNamespace(ctx, req, merged);
  const admitted = admit(req.rt, merged, current, options);
  const stored = ctx.store.update(req.rt, admitted.object, String(meta(current).resourceVersion));
  return { code: 200, body: stored, warnings: admitted.warnings };
}

export function update(ctx: HandlerContext, req: ResourceRequest, body: Json, options: WriteOptions): WriteResult {
  const name = requireName(req);
  if (!isObject(body)) throw new KubeStatusError(400, "BadRequest", "the body of an update must be a JSON object");
  const current = ctx.store.mustGet(req.rt, namespaceOf(req), name);
  const rv = meta(clone(body)).resourceVersion;
  if (req.subresource === "scale") return writeScale(ctx, req, current, body, options);
  checkTypeMeta(req.rt, body, apiVersionOf(req.rt));
  if (rv === undefined || rv === "") {
    // Custom resources refuse unconditional updates; built-in kinds allow them.
    if (!req.rt.builtin) {
      throw invalid(req.rt, name, [
        { field: "metadata.resourceVersion", type: "Invalid", value: 0, detail: "must be specified for an update" },
      ]);
    }
  } else if (rv !== meta(current).resourceVersion) {
    throw conflict(req.rt, name);
  }
  return write(ctx, req, current, body, options);
}

export function patch(
  ctx: HandlerContext,
  req: ResourceRequest,
  patchBody: Json,
  patchType: string,
  options: WriteOptions,
): WriteResult {
  const name = requireName(req);
  const current = ctx.store.mustGet(req.rt, namespaceOf(req), name);
  const base = req.subresource === "scale" ? toScale(req.rt, current) : current;
  let patched: Json;
  if (patchType === MERGE_PATCH) patched = mergePatch(base, patchBody);
  else if (patchType === JSON_PATCH) patched = jsonPatch(base, patchBody);
  else if (patchType === STRATEGIC_MERGE_PATCH) patched = strategicMergePatch(base, patchBody);
  else throw new KubeStatusError(415, "UnsupportedMediaType", `unsupported patch type ${patchType}`);
  if (!isObject(patched)) throw new KubeStatusError(400, "BadRequest", "the patched object is not a JSON object");
  const rv = meta(patched).resourceVersion;
  if (rv !== undefined && rv !== meta(base).resourceVersion) throw conflict(req.rt, name);
  if (req.subresource === "scale") return writeScale(ctx, req, current, patched, options);
  return write(ctx, req, current, patched, options);
}

export function remove(ctx: HandlerContext, req: ResourceRequest): JsonObject {
  const name = requireName(req);
  const gone = ctx.store.delete(req.rt, namespaceOf(req), name);
  if (req.rt.resource === "namespaces") {
    for (const rt of RESOURCES.filter((r) => r.namespaced)) {
      for (const obj of ctx.store.list(rt, name)) ctx.store.delete(rt, name, String(meta(obj).name));
    }
  }
  if (req.rt.resource === "pods") return gone;
  return successStatus({ name, group: req.rt.group, kind: req.rt.resource, ...uidOf(gone) });
}

function uidOf(obj: JsonObject): { uid?: string } {
  const uid = meta(obj).uid;
  return typeof uid === "string" ? { uid } : {};
}

/** autoscaling/v1 Scale of a Deployment or StatefulSet. */
export function toScale(_rt: ResourceType, obj: JsonObject): JsonObject {
  const m = meta(obj);
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const matchLabels = isObject(spec.selector) && isObject(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  const selector = Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: m.name ?? null,
      namespace: m.namespace ?? null,
      uid: m.uid ?? null,
      resourceVersion: m.resourceVersion ?? null,
      creationTimestamp: m.creationTimestamp ?? null,
    },
    spec: { replicas: typeof spec.replicas === "number" ? spec.replicas : 0 },
    status: { replicas: typeof status.replicas === "number" ? status.replicas : 0, selector },
  };
}

function writeScale(
  ctx: HandlerContext,
  req: ResourceRequest,
  current: JsonObject,
  scale: JsonObject,
  options: WriteOptions,
): WriteResult {
  const name = requireName(req);
  const rv = meta(scale).resourceVersion;
  if (rv !== undefined && rv !== null && rv !== "" && rv !== meta(current).resourceVersion)
    throw conflict(req.rt, name);
  const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw new KubeStatusError(
      422,
      "Invalid",
      `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
      {
        name,
        group: "autoscaling",
        kind: "Scale",
        causes: [
          { reason: "FieldValueInvalid", message: "must be greater than or equal to 0", field: "spec.replicas" },
        ],
      },
    );
  }
  const next = clone(current);
  if (isObject(next.spec)) next.spec.replicas = replicas;
  else next.spec = { replicas };
  const admitted = admit(req.rt, next, current, options);
  const stored = ctx.store.update(req.rt, admitted.object, String(meta(current).resourceVersion));
  return { code: 200, body: toScale(req.rt, stored), warnings: [] };
}
