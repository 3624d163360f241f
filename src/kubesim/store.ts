import { randomUUID } from "node:crypto";
import { clone, deepEqual, type JsonObject, meta } from "./json.js";
import { qualifiedResource, type ResourceType } from "./resources.js";
import { KubeStatusError } from "./status.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  readonly type: WatchEventType;
  readonly rt: ResourceType;
  /** A private copy: listeners may keep it. */
  readonly object: JsonObject;
  readonly resourceVersion: number;
}

export type StoreListener = (event: StoreEvent) => void;

/** How many past events a watch can start from before it gets 410 Expired (etcd compaction, in effect). */
const EVENT_LOG_SIZE = 10_000;

function typeKey(rt: ResourceType): string {
  return `${rt.group}/${rt.resource}`;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/**
 * Objects, a single monotonic resourceVersion for all of them (as etcd's revision is), and the
 * event log that watches replay from. Every object in and out is a copy, so callers can never
 * change stored state behind the store's back.
 */
export class ObjectStore {
  private revision = 1;
  private readonly byType = new Map<string, Map<string, JsonObject>>();
  private readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();

  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest resourceVersion a watch can still start after. */
  get oldestWatchable(): number {
    const first = this.log[0];
    return first ? first.resourceVersion - 1 : this.revision;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  eventsAfter(rv: number): StoreEvent[] {
    return this.log.filter((e) => e.resourceVersion > rv);
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): JsonObject | undefined {
    const obj = this.table(rt).get(objectKey(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  mustGet(rt: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const obj = this.get(rt, namespace, name);
    if (!obj) throw notFound(rt, name);
    return obj;
  }

  list(rt: ResourceType, namespace?: string): JsonObject[] {
    const out: JsonObject[] = [];
    for (const obj of this.table(rt).values()) {
      if (namespace !== undefined && meta(obj).namespace !== namespace) continue;
      out.push(clone(obj));
    }
    return out.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  create(rt: ResourceType, input: JsonObject, now: Date): JsonObject {
    const obj = clone(input);
    const m = meta(obj);
    const name = m.name;
    if (typeof name !== "string" || name === "") throw new KubeStatusError(422, "Invalid", "name is required");
    const namespace = rt.namespaced ? (m.namespace as string) : undefined;
    const key = objectKey(namespace, name);
    const table = this.table(rt);
    if (table.has(key)) {
      throw new KubeStatusError(409, "AlreadyExists", `${qualifiedResource(rt)} "${name}" already exists`, {
        name,
        group: rt.group,
        kind: rt.resource,
      });
    }
    m.uid = randomUUID();
    m.creationTimestamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    m.generation = 1;
    m.resourceVersion = String(this.nextRevision());
    table.set(key, obj);
    this.emit("ADDED", rt, obj);
    return clone(obj);
  }

  /**
   * Replaces an object. With `expectedRv` a different stored resourceVersion is a 409 Conflict.
   * generation moves when anything but metadata and status changed, as for built-in kinds and CRDs.
   */
  update(rt: ResourceType, input: JsonObject, expectedRv?: string): JsonObject {
    const obj = clone(input);
    const m = meta(obj);
    const name = String(m.name);
    const namespace = rt.namespaced ? (m.namespace as string) : undefined;
    const key = objectKey(namespace, name);
    const table = this.table(rt);
    const old = table.get(key);
    if (!old) throw notFound(rt, name);
    const om = meta(old);
    if (expectedRv !== undefined && expectedRv !== "" && expectedRv !== om.resourceVersion) {
      throw conflict(rt, name);
    }
    m.uid = om.uid ?? null;
    m.creationTimestamp = om.creationTimestamp ?? null;
    m.generation = specChanged(old, obj) ? Number(om.generation ?? 0) + 1 : (om.generation ?? 1);
    m.resourceVersion = om.resourceVersion ?? "0";
    if (deepEqual(old, obj)) return clone(old);
    m.resourceVersion = String(this.nextRevision());
    table.set(key, obj);
    this.emit("MODIFIED", rt, obj);
    return clone(obj);
  }

  delete(rt: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const table = this.table(rt);
    const key = objectKey(rt.namespaced ? namespace : undefined, name);
    const old = table.get(key);
    if (!old) throw notFound(rt, name);
    table.delete(key);
    const gone = clone(old);
    meta(gone).resourceVersion = String(this.nextRevision());
    this.emit("DELETED", rt, gone);
    return clone(gone);
  }

  private nextRevision(): number {
    this.revision += 1;
    return this.revision;
  }

  private emit(type: WatchEventType, rt: ResourceType, obj: JsonObject): void {
    const event: StoreEvent = { type, rt, object: clone(obj), resourceVersion: this.revision };
    this.log.push(event);
    if (this.log.length > EVENT_LOG_SIZE) this.log.shift();
    for (const l of [...this.listeners]) l({ ...event, object: clone(event.object) });
  }

  private table(rt: ResourceType): Map<string, JsonObject> {
    let t = this.byType.get(typeKey(rt));
    if (!t) {
      t = new Map();
      this.byType.set(typeKey(rt), t);
    }
    return t;
  }
}

function keyOf(obj: JsonObject): string {
  const m = meta(obj);
  return `${m.namespace ?? ""}/${m.name ?? ""}`;
}

function specChanged(old: JsonObject, next: JsonObject): boolean {
  const strip = (o: JsonObject): JsonObject => {
    const { metadata: _m, status: _s, ...rest } = o;
    return rest;
  };
  return !deepEqual(strip(old), strip(next));
}

export function notFound(rt: ResourceType, name: string): KubeStatusError {
  return new KubeStatusError(404, "NotFound", `${qualifiedResource(rt)} "${name}" not found`, {
    name,
    group: rt.group,
    kind: rt.resource,
  });
}

export function conflict(rt: ResourceType, name: string): KubeStatusError {
  return new KubeStatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: rt.group, kind: rt.resource },
  );
}
