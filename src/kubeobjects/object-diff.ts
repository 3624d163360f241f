import type { Json } from "./api-json.js";
import type { ApiObject } from "./decode.js";
import type { FoundObject } from "./read-objects.js";

/** Which object: its etcd key, and the kind and name a person reads. */
export interface ObjectId {
  readonly key: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/**
 * One field that differs. `before`/`after` are absent on the side where the field is missing, and
 * on both sides for a hidden Secret value (`hidden`: only that it changed is said).
 */
export interface FieldChange {
  readonly path: string;
  readonly before?: Json;
  readonly after?: Json;
  readonly hidden?: true;
}

export interface ObjectChange extends ObjectId {
  readonly fields: readonly FieldChange[];
}

export interface ObjectDiff {
  readonly added: readonly ObjectId[];
  readonly removed: readonly ObjectId[];
  readonly changed: readonly ObjectChange[];
  readonly unchanged: number;
}

/**
 * Objects added, removed and changed from `before` to `after`, matched by etcd key. Both must come
 * in etcd's key order (as streamObjects gives them): they are walked side by side, one object of
 * each held at a time, so memory grows with the changes found, not with the objects compared.
 * Changed ones come with every differing leaf field. A Secret's data values (and the last-applied
 * annotation that copies them) are reported only as changed unless `showSecrets`: the diff is meant
 * to be pasted into tickets.
 */
export function diffObjects(
  before: Iterable<FoundObject>,
  after: Iterable<FoundObject>,
  options: { showSecrets?: boolean } = {},
): ObjectDiff {
  const added: ObjectId[] = [];
  const removed: ObjectId[] = [];
  const changed: ObjectChange[] = [];
  let unchanged = 0;
  const a = before[Symbol.iterator]();
  const b = after[Symbol.iterator]();
  let was = a.next();
  let now = b.next();
  while (!was.done || !now.done) {
    // Keys are latin1 strings: comparing them compares etcd's bytes.
    if (now.done || (!was.done && was.value.key < now.value.key)) {
      const f = was.value as FoundObject;
      removed.push(idOf(f.key, f.object));
      was = a.next();
    } else if (was.done || now.value.key < was.value.key) {
      added.push(idOf(now.value.key, now.value.object));
      now = b.next();
    } else {
      const f = now.value;
      const old = was.value.object;
      const hide = !options.showSecrets && (f.object.kind === "Secret" || old.kind === "Secret");
      const fields: FieldChange[] = [];
      compare(old, f.object, [], fields, hide);
      if (fields.length === 0) unchanged++;
      else changed.push({ ...idOf(f.key, f.object), fields });
      was = a.next();
      now = b.next();
    }
  }
  return { added, removed, changed, unchanged };
}

function idOf(key: string, o: ApiObject): ObjectId {
  const meta = o.metadata && typeof o.metadata === "object" && !Array.isArray(o.metadata) ? o.metadata : {};
  const namespace = typeof meta.namespace === "string" ? meta.namespace : undefined;
  const name = typeof meta.name === "string" ? meta.name : (key.split("/").at(-1) ?? key);
  const kind = typeof o.kind === "string" && o.kind ? o.kind : "?";
  return { key, kind, name, ...(namespace !== undefined ? { namespace } : {}) };
}

type Segment = string | number;

const isRecord = (v: Json | undefined): v is { [k: string]: Json } =>
  v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);

/** Walks both values together down to the leaves that differ; a side missing a field is `undefined`. */
function compare(a: Json | undefined, b: Json | undefined, at: Segment[], out: FieldChange[], hide: boolean): void {
  // Both sides objects (or one missing): field by field. Both arrays: index by index. Else a leaf.
  const objects = (a === undefined || isRecord(a)) && (b === undefined || isRecord(b));
  const arrays = (a === undefined || Array.isArray(a)) && (b === undefined || Array.isArray(b));
  if (objects && (isRecord(a) || isRecord(b))) {
    const x = isRecord(a) ? a : {};
    const y = isRecord(b) ? b : {};
    const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    for (const k of keys) compare(x[k], y[k], [...at, k], out, hide);
  } else if (arrays && (Array.isArray(a) || Array.isArray(b))) {
    const x = Array.isArray(a) ? a : [];
    const y = Array.isArray(b) ? b : [];
    for (let i = 0; i < Math.max(x.length, y.length); i++) compare(x[i], y[i], [...at, i], out, hide);
  } else if (a !== b) leaf(a, b, at, out, hide);
}

function leaf(a: Json | undefined, b: Json | undefined, at: Segment[], out: FieldChange[], hide: boolean): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  const path = pathText(at);
  if (hide && secretValue(at)) {
    out.push({ path, hidden: true });
    return;
  }
  out.push({ path, ...(a !== undefined ? { before: a } : {}), ...(b !== undefined ? { after: b } : {}) });
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** A Secret's values, and the annotation kubectl apply copies the whole Secret into. */
function secretValue(at: Segment[]): boolean {
  if (at[0] === "data" || at[0] === "stringData") return true;
  return at[0] === "metadata" && at[1] === "annotations" && at[2] === LAST_APPLIED;
}

/** `spec.template.spec.containers[0].image`; keys that are not plain words in brackets, as jq writes them. */
function pathText(at: Segment[]): string {
  let s = "";
  for (const seg of at) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/** `path: before -> after`, a missing side as (none), a hidden value as `changed`. */
export function fieldChangeText(c: FieldChange): string {
  if (c.hidden) return `${c.path}: changed (Secret value hidden; --show-secrets shows it)`;
  const show = (v: Json | undefined) => (v === undefined ? "(none)" : JSON.stringify(v));
  return `${c.path}: ${show(c.before)} -> ${show(c.after)}`;
}

export function objectIdText(o: ObjectId): string {
  return `${o.kind} ${o.namespace !== undefined ? `${o.namespace}/` : ""}${o.name}`;
}
