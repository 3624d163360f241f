/** JSON values as the API server sees them: what a request body or a stored object can hold. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** The object at `path`, created (as `{}`) on the way when missing. */
export function ensureObject(root: JsonObject, path: readonly string[]): JsonObject {
  let cur = root;
  for (const key of path) {
    const next = cur[key];
    if (isObject(next)) {
      cur = next;
    } else {
      const made: JsonObject = {};
      cur[key] = made;
      cur = made;
    }
  }
  return cur;
}

export function getPath(root: Json | undefined, path: readonly string[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const key of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function getString(root: Json | undefined, path: readonly string[]): string | undefined {
  const v = getPath(root, path);
  return typeof v === "string" ? v : undefined;
}

export function getNumber(root: Json | undefined, path: readonly string[]): number | undefined {
  const v = getPath(root, path);
  return typeof v === "number" ? v : undefined;
}

export function getObject(root: Json | undefined, path: readonly string[]): JsonObject | undefined {
  const v = getPath(root, path);
  return isObject(v) ? v : undefined;
}

/** The object's metadata; stored objects always have one. */
export function meta(obj: JsonObject): JsonObject {
  return ensureObject(obj, ["metadata"]);
}

export function stringMap(v: Json | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") out[k] = val;
  return out;
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: Json | undefined): Json | undefined {
  if (Array.isArray(v)) return v.map((x) => canonical(x) ?? null);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]) ?? null;
    return out;
  }
  return v;
}
