import type { Keyring } from "../encryption/keyring.js";
import { openValue } from "../encryption/open-value.js";
import { OperationError } from "../errors.js";
import { forEachRevision } from "../snapshot/keys.js";
import { type ApiObject, decodeValue } from "./decode.js";
import { etcdKeyPrefix, objectOfKey, type ResourceType } from "./resources.js";

export interface ObjectQuery {
  /** Undefined: every object under the etcd prefix (namespace then read from each object's metadata). */
  readonly resource?: ResourceType;
  /** kube-apiserver's --etcd-prefix (HyperShift and OpenShift: /kubernetes.io). */
  readonly etcdPrefix: string;
  /** Undefined: every namespace. Ignored for cluster-scoped kinds. */
  readonly namespace?: string;
  readonly name?: string;
  readonly keyring?: Keyring;
  /** Keep resourceVersion (the key's mod revision), uid, creationTimestamp, managedFields. */
  readonly raw?: boolean;
}

export interface FoundObject {
  readonly key: string;
  readonly object: ApiObject;
  readonly note?: string;
}

/**
 * The objects of one resource at the snapshot's revision, decoded, in etcd's key order. One pass
 * over the snapshot; only the matching keys' latest values are held. A value that cannot be opened
 * or decoded fails the whole query (OperationError naming the key and why): nothing half-printed.
 */
export function readObjects(snapshot: string, q: ObjectQuery): FoundObject[] {
  const resource = q.resource;
  const base = resource ? etcdKeyPrefix(resource, q.etcdPrefix, {}) : `${q.etcdPrefix.replace(/\/+$/, "")}/`;
  const scope = resource?.namespaced && q.namespace !== undefined ? { namespace: q.namespace } : {};
  const prefix = Buffer.from(resource ? etcdKeyPrefix(resource, q.etcdPrefix, scope) : base, "latin1");
  const live = new Map<string, { value: Buffer; modRevision: bigint }>();
  forEachRevision(snapshot, (kv) => {
    if (kv.key.length < prefix.length || !kv.key.subarray(0, prefix.length).equals(prefix)) return;
    const key = kv.key.toString("latin1");
    if (kv.tombstone) live.delete(key);
    else live.set(key, { value: Buffer.from(kv.value), modRevision: kv.modRevision });
  });
  const found: FoundObject[] = [];
  for (const key of [...live.keys()].sort()) {
    if (resource) {
      const where = objectOfKey(key, base);
      if (!where || (q.name !== undefined && where.name !== q.name)) continue;
    }
    const entry = live.get(key) as { value: Buffer; modRevision: bigint };
    const opened = openValue(entry.value, q.keyring);
    if (!opened.ok) throw new OperationError(`${key}: ${opened.message}`);
    const decoded = decodeValue(opened.plain);
    if (!decoded.ok) throw new OperationError(`${key}: ${decoded.reason}`);
    if (!resource && q.namespace !== undefined && namespaceOf(decoded.object) !== q.namespace) continue;
    found.push({
      key,
      object: q.raw ? withRevision(decoded.object, entry.modRevision) : readyToApply(decoded.object),
      ...(decoded.note ? { note: decoded.note } : {}),
    });
  }
  return found;
}

const SERVER_SET = ["resourceVersion", "uid", "creationTimestamp", "managedFields", "selfLink", "generation"];

/** What `kubectl create -f` takes back: the fields the API server sets on its own removed. */
function readyToApply(o: ApiObject): ApiObject {
  const meta = o.metadata;
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) return o;
  const kept = Object.fromEntries(Object.entries(meta).filter(([k]) => !SERVER_SET.includes(k)));
  return { ...o, metadata: kept };
}

/** The API server reports the key's mod revision as resourceVersion (the stored value has none). */
function withRevision(o: ApiObject, modRevision: bigint): ApiObject {
  const meta = o.metadata && typeof o.metadata === "object" && !Array.isArray(o.metadata) ? o.metadata : {};
  return { ...o, metadata: { ...meta, resourceVersion: modRevision.toString() } };
}

function namespaceOf(o: ApiObject): string | undefined {
  const meta = o.metadata;
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) return undefined;
  return typeof meta.namespace === "string" ? meta.namespace : undefined;
}
