import { clone, isObject, type Json, type JsonObject } from "./json.js";
import { KubeStatusError } from "./status.js";

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

export type PatchType = typeof MERGE_PATCH | typeof JSON_PATCH | typeof STRATEGIC_MERGE_PATCH;

function badPatch(why: string): KubeStatusError {
  return new KubeStatusError(400, "BadRequest", why);
}

/** RFC 7386: objects merge, `null` removes, anything else replaces. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Lists of built-in kinds that merge by a key instead of being replaced (patchMergeKey in the Go types).
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  ports: "containerPort",
  volumes: "name",
  volumeMounts: "mountPath",
  conditions: "type",
  tolerations: "key",
  imagePullSecrets: "name",
};

/**
 * Strategic merge patch for the lists built-in kinds declare mergeable (containers by name, and so
 * on); every other field behaves as a merge patch. `$patch: delete` on a list item and
 * `$patch: replace` on an object are honoured; `$retainKeys` and the other directives are not.
 */
export function strategicMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _p, ...rest } = patch;
    return clone(rest);
  }
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = MERGE_KEYS[k];
    const cur = out[k];
    if (key && Array.isArray(v) && Array.isArray(cur)) {
      out[k] = mergeList(cur, v, key);
    } else {
      out[k] = strategicMergePatch(cur, v);
    }
  }
  return out;
}

function mergeList(cur: Json[], patch: Json[], key: string): Json[] {
  const out = clone(cur);
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) {
      out.push(clone(item));
      continue;
    }
    const at = out.findIndex((x) => isObject(x) && x[key] === item[key]);
    if (item.$patch === "delete") {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = strategicMergePatch(out[at], item);
    } else {
      out.push(strategicMergePatch(undefined, item));
    }
  }
  return out;
}

interface JsonPatchOp {
  readonly op: string;
  readonly path: string;
  readonly from?: string;
  readonly value?: Json;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw badPatch(`json patch path ${JSON.stringify(path)} must start with "/"`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: Json; last: string } {
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (next === undefined) throw new KubeStatusError(422, "Invalid", `doc is missing path: "${path}"`);
    cur = next;
  }
  return { parent: cur, last: parts[parts.length - 1] ?? "" };
}

function read(doc: Json, path: string): Json {
  let cur: Json = doc;
  for (const p of pointer(path)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (next === undefined) throw new KubeStatusError(422, "Invalid", `doc is missing path: "${path}"`);
    cur = next;
  }
  return cur;
}

function remove(doc: Json, path: string): Json {
  const parts = pointer(path);
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) {
      throw new KubeStatusError(422, "Invalid", `Unable to remove nonexistent key: ${last}: missing value`);
    }
    return parent.splice(i, 1)[0] ?? null;
  }
  if (!isObject(parent) || !(last in parent)) {
    throw new KubeStatusError(422, "Invalid", `Unable to remove nonexistent key: ${last}: missing value`);
  }
  const v = parent[last] as Json;
  delete parent[last];
  return v;
}

function add(doc: Json, path: string, value: Json, replace: boolean): Json {
  const parts = pointer(path);
  if (parts.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw badPatch(`json patch index out of range: ${path}`);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) {
      throw new KubeStatusError(422, "Invalid", `replace operation does not apply: doc is missing key: ${path}`);
    }
    parent[last] = clone(value);
  } else {
    throw new KubeStatusError(422, "Invalid", `doc is missing path: "${path}"`);
  }
  return doc;
}

/** RFC 6902 with every operation (add, remove, replace, move, copy, test). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badPatch("json patch must be an array of operations");
  let doc = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw badPatch("json patch operation needs op and path");
    }
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case "add":
      case "replace":
        if (op.value === undefined) throw badPatch(`json patch ${op.op} needs a value`);
        doc = add(doc, op.path, op.value, op.op === "replace");
        break;
      case "remove":
        remove(doc, op.path);
        break;
      case "move": {
        const v = remove(doc, op.from ?? "");
        doc = add(doc, op.path, v, false);
        break;
      }
      case "copy":
        doc = add(doc, op.path, read(doc, op.from ?? ""), false);
        break;
      case "test":
        if (JSON.stringify(read(doc, op.path)) !== JSON.stringify(op.value ?? null)) {
          throw new KubeStatusError(422, "Invalid", `testing value ${op.path} failed: test failed`);
        }
        break;
      default:
        throw badPatch(`unexpected json patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** The content type without parameters (`; charset=utf-8`). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}
