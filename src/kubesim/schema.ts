import type { FieldError } from "./field-errors.js";
import { clone, isObject, type Json, type JsonObject } from "./json.js";

/** The part of OpenAPI v3 (structural schema, Kubernetes flavour) the validator understands. */
export interface Schema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly items?: Schema;
  readonly additionalProperties?: boolean | Schema;
  readonly required?: readonly string[];
  readonly enum?: readonly Json[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly nullable?: boolean;
  readonly default?: Json;
  readonly anyOf?: readonly Schema[];
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-int-or-string"?: boolean;
  readonly "x-kubernetes-embedded-resource"?: boolean;
}

export interface SchemaOptions {
  /** `fieldValidation=Strict`: unknown fields are errors; otherwise they are pruned (and reported). */
  readonly strict: boolean;
}

export interface SchemaResult {
  readonly errors: FieldError[];
  /** Paths of the fields pruned because the schema does not declare them. */
  readonly pruned: string[];
}

const patterns = new Map<string, RegExp | null>();

function compile(p: string): RegExp | null {
  if (!patterns.has(p)) {
    try {
      patterns.set(p, new RegExp(p, "u"));
    } catch {
      // An RE2 construct JavaScript lacks: the pattern is not checked rather than checked wrongly.
      patterns.set(p, null);
    }
  }
  return patterns.get(p) ?? null;
}

function typeName(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeMatches(v: Json, t: string): boolean {
  const actual = typeName(v);
  return actual === t || (t === "number" && actual === "integer");
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Validates `value` in place against `schema`: applies `default`s of absent properties (as the API
 * server does before validating), prunes undeclared fields, and collects field errors with their paths.
 */
export function validateSchema(value: Json, schema: Schema, path: string, options: SchemaOptions): SchemaResult {
  const result: SchemaResult = { errors: [], pruned: [] };
  walk(value, schema, path, options, result);
  return result;
}

function walk(v: Json, s: Schema, path: string, options: SchemaOptions, out: SchemaResult): void {
  const errors = out.errors;
  if (v === null) {
    if (!s.nullable && s.type !== undefined) {
      errors.push({
        field: path,
        type: "Invalid",
        value: "null",
        detail: `${path} in body must be of type ${s.type}: "null"`,
      });
    }
    return;
  }
  if (s["x-kubernetes-int-or-string"]) {
    if (typeof v !== "string" && !(typeof v === "number" && Number.isInteger(v))) {
      errors.push({
        field: path,
        type: "Invalid",
        value: typeName(v),
        detail: `${path} in body must be of type integer,string: "${typeName(v)}"`,
      });
      return;
    }
  } else if (s.type && !typeMatches(v, s.type)) {
    errors.push({
      field: path,
      type: "Invalid",
      value: typeName(v),
      detail: `${path} in body must be of type ${s.type}: "${typeName(v)}"`,
    });
    return;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    errors.push({
      field: path,
      type: "NotSupported",
      value: v,
      detail: s.enum.map((e) => JSON.stringify(e)).join(", "),
    });
  }
  if (typeof v === "string") checkString(v, s, path, errors);
  if (typeof v === "number") {
    if (s.minimum !== undefined && v < s.minimum)
      errors.push({
        field: path,
        type: "Invalid",
        value: v,
        detail: `${path} in body should be greater than or equal to ${s.minimum}`,
      });
    if (s.maximum !== undefined && v > s.maximum)
      errors.push({
        field: path,
        type: "Invalid",
        value: v,
        detail: `${path} in body should be less than or equal to ${s.maximum}`,
      });
    if (s.format === "int32" && (v < -(2 ** 31) || v >= 2 ** 31))
      errors.push({ field: path, type: "Invalid", value: v, detail: `${path} in body must be of type int32` });
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems)
      errors.push({ field: path, type: "TooMany", detail: `${v.length}: must have at most ${s.maxItems} items` });
    if (s.minItems !== undefined && v.length < s.minItems)
      errors.push({
        field: path,
        type: "Invalid",
        value: v.length,
        detail: `${path} in body should have at least ${s.minItems} items`,
      });
    if (s.items) {
      for (const [i, item] of v.entries()) walk(item, s.items, `${path}[${i}]`, options, out);
    }
  }
  if (isObject(v)) walkObject(v, s, path, options, out);
}

function checkString(v: string, s: Schema, path: string, errors: FieldError[]): void {
  if (s.minLength !== undefined && [...v].length < s.minLength)
    errors.push({
      field: path,
      type: "Invalid",
      value: v,
      detail: `${path} in body should be at least ${s.minLength} chars long`,
    });
  if (s.maxLength !== undefined && [...v].length > s.maxLength)
    errors.push({ field: path, type: "TooLong", value: v, detail: `may not be more than ${s.maxLength} bytes` });
  if (s.pattern) {
    const re = compile(s.pattern);
    if (re && !re.test(v))
      errors.push({ field: path, type: "Invalid", value: v, detail: `${path} in body should match '${s.pattern}'` });
  }
  if (s.format === "date-time" && !RFC3339.test(v))
    errors.push({
      field: path,
      type: "Invalid",
      value: v,
      detail: `${path} in body must be of type date-time: "${v}"`,
    });
}

function walkObject(v: JsonObject, s: Schema, path: string, options: SchemaOptions, out: SchemaResult): void {
  const props = s.properties;
  if (props) {
    for (const [k, ps] of Object.entries(props)) {
      if (v[k] === undefined && ps.default !== undefined) v[k] = clone(ps.default);
    }
  }
  for (const req of s.required ?? []) {
    if (v[req] === undefined) out.errors.push({ field: join(path, req), type: "Required" });
  }
  const additional = s.additionalProperties;
  for (const [k, child] of Object.entries(v)) {
    const ps = props?.[k] ?? (isObject(additional as Json) ? (additional as Schema) : undefined);
    if (ps) {
      walk(child, ps, join(path, k), options, out);
    } else if (
      !props &&
      (additional === true || additional === undefined) &&
      !s["x-kubernetes-preserve-unknown-fields"]
    ) {
      // An object schema with neither properties nor additionalProperties: everything is pruned.
      prune(v, k, path, options, out);
    } else if (!s["x-kubernetes-preserve-unknown-fields"] && additional !== true) {
      prune(v, k, path, options, out);
    }
  }
  if (s.maxProperties !== undefined && Object.keys(v).length > s.maxProperties)
    out.errors.push({
      field: path,
      type: "TooMany",
      detail: `${Object.keys(v).length}: must have at most ${s.maxProperties} items`,
    });
  if (s.minProperties !== undefined && Object.keys(v).length < s.minProperties)
    out.errors.push({
      field: path,
      type: "Invalid",
      value: Object.keys(v).length,
      detail: `${path} in body should have at least ${s.minProperties} properties`,
    });
}

function prune(v: JsonObject, k: string, path: string, options: SchemaOptions, out: SchemaResult): void {
  const field = join(path, k);
  if (options.strict) out.errors.push({ field, type: "Unknown", detail: `unknown field "${field}"` });
  else {
    out.pruned.push(field);
    delete v[k];
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}
