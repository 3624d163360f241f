import type { Json } from "./json.js";
import type { ResourceType } from "./resources.js";
import { KubeStatusError, type StatusCause } from "./status.js";

/** One field error, as k8s.io/apimachinery's field.Error renders it. */
export interface FieldError {
  readonly field: string;
  readonly type: "Invalid" | "Required" | "NotSupported" | "TooLong" | "TooMany" | "Forbidden" | "Unknown";
  readonly detail?: string;
  readonly value?: Json;
}

const CAUSE_REASON: Record<FieldError["type"], string> = {
  Invalid: "FieldValueInvalid",
  Required: "FieldValueRequired",
  NotSupported: "FieldValueNotSupported",
  TooLong: "FieldValueTooLong",
  TooMany: "FieldValueTooMany",
  Forbidden: "FieldValueForbidden",
  Unknown: "FieldValueInvalid",
};

function quote(v: Json | undefined): string {
  return JSON.stringify(v ?? null);
}

export function errorBody(e: FieldError): string {
  switch (e.type) {
    case "Required":
      return "Required value";
    case "NotSupported":
      return `Unsupported value: ${quote(e.value)}: supported values: ${e.detail ?? ""}`;
    case "TooLong":
      return `Too long: ${e.detail ?? ""}`;
    case "TooMany":
      return `Too many: ${e.detail ?? ""}`;
    case "Forbidden":
      return `Forbidden: ${e.detail ?? ""}`;
    case "Unknown":
      return e.detail ?? "field not declared in schema";
    default:
      return `Invalid value: ${quote(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

/** The 422 kube-apiserver answers: `Kind.group "name" is invalid: field: detail`, one cause a field. */
export function invalid(rt: ResourceType, name: string, errors: readonly FieldError[]): KubeStatusError {
  const parts = errors.map((e) => (e.type === "Unknown" ? `${e.detail}` : `${e.field}: ${errorBody(e)}`));
  const qualified = rt.group === "" ? rt.kind : `${rt.kind}.${rt.group}`;
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  const causes: StatusCause[] = errors.map((e) => ({
    reason: CAUSE_REASON[e.type],
    message: e.type === "Unknown" ? (e.detail ?? "") : errorBody(e),
    field: e.field,
  }));
  return new KubeStatusError(422, "Invalid", `${qualified} "${name}" is invalid: ${summary}`, {
    name,
    group: rt.group,
    kind: rt.kind,
    causes,
  });
}
