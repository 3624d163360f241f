import protobuf from "protobufjs";

/**
 * A decoded Kubernetes protobuf message in the JSON form the API server prints: proto field names
 * are already the JSON names (go-to-protobuf takes them from the json tags); the apimachinery
 * wrapper types (Time, Quantity, IntOrString, RawExtension ...) become their JSON spellings; bytes
 * become base64. Go writes empty strings and lists on the wire that its JSON omits (omitempty):
 * those are left out too. Empty messages stay (`emptyDir: {}` means something).
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const META = ".k8s.io.apimachinery.pkg.apis.meta.v1.";

/**
 * Go structs embedded with `json:",inline"` are a named field on the wire but flat in JSON
 * (a Volume's `emptyDir` sits beside its `name`).
 */
const INLINE = new Set(["volumeSource", "persistentVolumeSource", "ephemeralContainerCommon"]);

export function messageToJson(type: protobuf.Type, message: protobuf.Message): { [k: string]: Json } {
  const special = wrapperToJson(type, message as unknown as Record<string, unknown>);
  if (special !== undefined) return special as { [k: string]: Json };
  const out: { [k: string]: Json } = {};
  const m = message as unknown as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(m, field.name)) continue;
    const value = m[field.name];
    if (value === null || value === undefined) continue;
    if (field instanceof protobuf.MapField) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      out[field.name] = Object.fromEntries(entries.map(([k, v]) => [k, scalarOrMessage(field, v)]));
    } else if (field.repeated) {
      const items = value as unknown[];
      if (items.length === 0) continue;
      out[field.name] = items.map((v) => scalarOrMessage(field, v));
    } else {
      const v = scalarOrMessage(field, value);
      if (v === "") continue;
      if (INLINE.has(field.name) && v && typeof v === "object" && !Array.isArray(v)) Object.assign(out, v);
      else out[field.name] = v;
    }
  }
  return out;
}

function scalarOrMessage(field: protobuf.Field, value: unknown): Json {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    const special = wrapperToJson(rt, value as Record<string, unknown>);
    return special !== undefined ? special : messageToJson(rt, value as protobuf.Message);
  }
  if (rt instanceof protobuf.Enum) return rt.valuesById[value as number] ?? (value as number);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "object" && value !== null && "low" in value) return Number(String(value));
  return value as Json;
}

/** The apimachinery types whose JSON is not their message's fields; undefined for every other type. */
function wrapperToJson(type: protobuf.Type, v: Record<string, unknown>): Json | undefined {
  const name = type.fullName;
  if (name === `${META}Time`) return rfc3339(v.seconds, 0);
  if (name === `${META}MicroTime`) return rfc3339(v.seconds, Number(v.nanos ?? 0));
  if (name === ".k8s.io.apimachinery.pkg.api.resource.Quantity") return String(v.string ?? "");
  if (name === ".k8s.io.apimachinery.pkg.util.intstr.IntOrString")
    return Number(v.type ?? 0) === 1 ? String(v.strVal ?? "") : Number(v.intVal ?? 0);
  if (name === `${META}Duration`) return goDuration(Number(String(v.duration ?? 0)));
  if (name === ".k8s.io.apimachinery.pkg.runtime.RawExtension" || name === `${META}FieldsV1`) {
    const raw = (v.raw ?? v.Raw) as Uint8Array | undefined;
    if (!raw || raw.length === 0) return {};
    try {
      return JSON.parse(Buffer.from(raw).toString("utf8")) as Json;
    } catch {
      return Buffer.from(raw).toString("base64");
    }
  }
  return undefined;
}

function rfc3339(seconds: unknown, nanos: number): string {
  const ms = Number(String(seconds ?? 0)) * 1000;
  const iso = new Date(ms).toISOString(); // 2006-01-02T15:04:05.000Z
  if (nanos === 0) return `${iso.slice(0, 19)}Z`;
  return `${iso.slice(0, 19)}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z`;
}

/** Go's time.Duration.String() for whole seconds and up (what Kubernetes durations hold). */
function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  let s = Math.abs(ns) / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${Number(s.toFixed(9))}s`;
  if (h > 0) return `${sign}${h}h${m}m${sec}`;
  if (m > 0) return `${sign}${m}m${sec}`;
  return `${sign}${sec}`;
}
