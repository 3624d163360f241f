import { type JsonObject, meta, stringMap } from "./json.js";
import { KubeStatusError } from "./status.js";

type Requirement =
  | { readonly op: "=" | "!="; readonly key: string; readonly value: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: readonly string[] }
  | { readonly op: "exists" | "!exists"; readonly key: string };

export type Selector = (obj: JsonObject) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

function badSelector(s: string, why: string): KubeStatusError {
  return new KubeStatusError(400, "BadRequest", `unable to parse requirement: ${why}: "${s}"`);
}

function parseRequirement(term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set) {
    const values = (set[3] ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    return { op: set[2] as "in" | "notin", key: set[1] as string, values };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (eq) return { op: eq[2] === "!=" ? "!=" : "=", key: eq[1] as string, value: eq[3] as string };
  const notExists = /^!\s*(\S+)$/.exec(term);
  if (notExists) return { op: "!exists", key: notExists[1] as string };
  if (/^[A-Za-z0-9._/-]+$/.test(term)) return { op: "exists", key: term };
  throw badSelector(term, "invalid label selector");
}

function matches(labels: Record<string, string>, r: Requirement): boolean {
  const v = labels[r.key];
  switch (r.op) {
    case "=":
      return v === r.value;
    case "!=":
      return v !== r.value;
    case "in":
      return v !== undefined && r.values.includes(v);
    case "notin":
      return v === undefined || !r.values.includes(v);
    case "exists":
      return v !== undefined;
    case "!exists":
      return v === undefined;
  }
}

/** `labelSelector`: equality (`=`, `==`, `!=`) and set-based (`in`, `notin`, `key`, `!key`) requirements. */
export function parseLabelSelector(s: string | null): Selector {
  if (!s) return () => true;
  const reqs = splitTerms(s).map(parseRequirement);
  return (obj) => {
    const labels = stringMap(meta(obj).labels);
    return reqs.every((r) => matches(labels, r));
  };
}

/** `fieldSelector`: `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`, the fields every kind supports. */
export function parseFieldSelector(s: string | null): Selector {
  if (!s) return () => true;
  const checks = splitTerms(s).map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    const field = m?.[1];
    if (!m || (field !== "metadata.name" && field !== "metadata.namespace")) {
      throw new KubeStatusError(400, "BadRequest", `field label not supported: ${m?.[1] ?? term}`);
    }
    const key = field === "metadata.name" ? "name" : "namespace";
    const want = m[3] ?? "";
    const negate = m[2] === "!=";
    return (obj: JsonObject) => (meta(obj)[key] === want) !== negate;
  });
  return (obj) => checks.every((c) => c(obj));
}
