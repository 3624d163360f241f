import { checkCelRules } from "./cel-rules.js";
import { crdSchema } from "./crds.js";
import { type FieldError, invalid } from "./field-errors.js";
import { isObject, type JsonObject, meta } from "./json.js";
import { validateObjectMeta } from "./objectmeta.js";
import type { ResourceType } from "./resources.js";
import { validateSchema } from "./schema.js";
import { KubeStatusError } from "./status.js";

export interface AdmissionOptions {
  /** `fieldValidation=Strict` on the request. */
  readonly strict: boolean;
}

export interface Admitted {
  readonly object: JsonObject;
  /** `Warning` headers for the response (pruned unknown fields, as kube-apiserver warns). */
  readonly warnings: string[];
}

const DNS_LABEL_NAMED = new Set(["namespaces", "services"]);

/**
 * What kube-apiserver checks before it stores a write: apiVersion/kind, ObjectMeta, and for the
 * HyperShift kinds the CRD's OpenAPI schema (defaults applied, unknown fields pruned or refused)
 * and the CEL rules of cel-rules.ts. Throws a 422 Invalid that names every failing field.
 */
export function admit(
  rt: ResourceType,
  input: JsonObject,
  old: JsonObject | undefined,
  options: AdmissionOptions,
): Admitted {
  const obj = structuredClone(input);
  const name = String(meta(obj).name ?? "");
  const errors: FieldError[] = validateObjectMeta(meta(obj), { dnsLabelName: DNS_LABEL_NAMED.has(rt.resource) });
  const warnings: string[] = [];
  if (rt.resource === "namespaces") {
    // kube-apiserver labels every namespace with its name (immutable), which NetworkPolicies select on.
    const m = meta(obj);
    m.labels = { ...(isObject(m.labels) ? m.labels : {}), "kubernetes.io/metadata.name": name };
  }
  if (!rt.builtin) {
    const root = crdSchema(rt.kind);
    for (const [key, value] of Object.entries(obj)) {
      if (key === "apiVersion" || key === "kind" || key === "metadata") continue;
      const sub = root.properties?.[key];
      if (!sub) {
        if (options.strict) errors.push({ field: key, type: "Unknown", detail: `unknown field "${key}"` });
        else {
          delete obj[key];
          warnings.push(`unknown field "${key}"`);
        }
        continue;
      }
      const r = validateSchema(value, sub, key, { strict: options.strict });
      errors.push(...r.errors);
      warnings.push(...r.pruned.map((p) => `unknown field "${p}"`));
    }
    for (const req of root.required ?? []) if (obj[req] === undefined) errors.push({ field: req, type: "Required" });
    errors.push(...checkCelRules(rt.kind, obj, old));
  } else if (rt.resource === "deployments" || rt.resource === "statefulsets") {
    const replicas = isObject(obj.spec) ? obj.spec.replicas : undefined;
    if (replicas !== undefined && (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)) {
      errors.push({
        field: "spec.replicas",
        type: "Invalid",
        value: replicas,
        detail: "must be greater than or equal to 0",
      });
    }
  }
  if (errors.length > 0) throw invalid(rt, name, errors);
  return { object: obj, warnings };
}

/** The body's apiVersion and kind must name the resource the URL names. */
export function checkTypeMeta(rt: ResourceType, obj: JsonObject, apiVersion: string): void {
  if (obj.kind !== undefined && obj.kind !== rt.kind) {
    throw new KubeStatusError(
      400,
      "BadRequest",
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw new KubeStatusError(
      400,
      "BadRequest",
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
    );
  }
}
