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
 * Same documents in the same order, equal once `intended` paths are removed (keyed by `Kind/name`);
 * a document the restore adds is intended as `["(added)"]`. Returns the patched documents.
 */
export function assertOnlyChanged(before: string, after: string, intended: Record<string, string[]>): Obj[] {
  const idOf = (d: Obj) => `${d.kind}/${get(d, "metadata.name")}`;
  const b = docsOf(before);
  const all = docsOf(after);
  const added = all.filter((d) => intended[idOf(d)]?.includes("(added)")).map(idOf);
  assert.deepEqual(
    added,
    Object.keys(intended).filter((id) => intended[id]?.includes("(added)")),
    "the documents meant to be added",
  );
  const a = all.filter((d) => !added.includes(idOf(d)));
  assert.deepEqual(a.map(idOf), b.map(idOf));
  for (const [i, doc] of b.entries()) {
    const id = idOf(doc);
    const strip = (o: Obj) => (intended[id] ?? []).reduce((acc, p) => without(acc, p), o);
    assert.deepEqual(strip(a[i] as Obj), strip(doc), `${id} changed outside ${intended[id]?.join(", ") ?? "nothing"}`);
  }
  return all;
}
