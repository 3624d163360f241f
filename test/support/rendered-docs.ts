// Comparing rendered manifests before and after `restore prepare`: every document, field by field,
// with the fields the restore is meant to change taken out.
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";

export type Obj = Record<string, unknown>;

/** The non-empty documents of a multi-document YAML, as plain objects. */
export function docsOf(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}

export function get(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Obj | undefined)?.[k], obj);
}

function without(obj: Obj, path: string): Obj {
  const copy = structuredClone(obj);
  const parts = path.split(".");
  let cur: Obj = copy;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) return copy;
    cur = cur[p] as Obj;
  }
  delete cur[parts.at(-1) as string];
  return copy;
}

/**
 * Same documents in the same order, equal once `intended` paths are removed (keyed by `Kind/name`).
 * Returns the patched documents for further checks.
 */
export function assertOnlyChanged(before: string, after: string, intended: Record<string, string[]>): Obj[] {
  const b = docsOf(before);
  const a = docsOf(after);
  assert.deepEqual(
    a.map((d) => `${d.kind}/${get(d, "metadata.name")}`),
    b.map((d) => `${d.kind}/${get(d, "metadata.name")}`),
  );
  for (const [i, doc] of b.entries()) {
    const id = `${doc.kind}/${get(doc, "metadata.name")}`;
    const strip = (o: Obj) => (intended[id] ?? []).reduce((acc, p) => without(acc, p), o);
    assert.deepEqual(strip(a[i] as Obj), strip(doc), `${id} changed outside ${intended[id]?.join(", ") ?? "nothing"}`);
  }
  return a;
}
