import { rm } from "node:fs/promises";
import { type AescbcKey, type Keyring, keyringOfClones } from "../encryption/keyring.js";
import { openValue } from "../encryption/open-value.js";
import { OperationError } from "../errors.js";
import { readSortedRuns, type SortedLiveKeys, sortLiveKeys } from "../restore/sorted-live-keys.js";
import { makeScratchDir } from "../scratch.js";
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

/** The objects a query selects, sorted onto disk: read them (as often as needed), then dispose. */
export interface ObjectStream {
  /**
   * The selected objects at the snapshot's revision, decoded, in etcd's key order, read from the
   * sorted runs from the first each call. A value that cannot be opened or decoded throws an
   * OperationError naming the key and why; a caller that must print nothing then goes through
   * them once to check before printing.
   */
  objects(): Generator<FoundObject>;
  /** The same objects as a plain value another thread can take (objectsOfRuns reads them there). */
  readonly sorted: SortedObjects;
  /** Removes the sorted runs and their scratch directory. */
  readonly dispose: () => Promise<void>;
}

/**
 * What a stream reads, in a form that crosses to a worker thread by structured cloning: the run
 * files (still owned, and removed, by the stream), the query and the keys (a Keyring does not clone).
 */
export interface SortedObjects {
  readonly runFiles: readonly string[];
  readonly base: string;
  readonly query: Omit<ObjectQuery, "keyring">;
  /** Undefined when no key was given (a value under a key then says so). */
  readonly keys?: readonly AescbcKey[];
}

export interface StreamOptions {
  /** Parent of the scratch directory for the sorted runs (the user's --scratch-dir; default the OS temp dir). */
  readonly scratchDir?: string;
  /** Memory for the sort's runs (default 8 MiB): with the one object decoded at a time, what `get -A` holds. */
  readonly memoryBytes?: number;
  readonly signal?: AbortSignal;
}

/**
 * The objects of one resource (or every one under the prefix) without holding them: the snapshot's
 * keys under the query's prefix are sorted with their latest values into runs on disk (the restore
 * drill's external sort, src/restore/sorted-live-keys.ts, on its worker thread), then merged back
 * one key at a time and decoded as they come. Memory stays flat whatever the number of objects.
 */
export async function streamObjects(snapshot: string, q: ObjectQuery, o: StreamOptions = {}): Promise<ObjectStream> {
  const resource = q.resource;
  const base = resource ? etcdKeyPrefix(resource, q.etcdPrefix, {}) : `${q.etcdPrefix.replace(/\/+$/, "")}/`;
  const scope = resource?.namespaced && q.namespace !== undefined ? { namespace: q.namespace } : {};
  const named = resource && q.name !== undefined && (scope.namespace !== undefined || !resource.namespaced);
  // One object by name: only its key (and keys it is a prefix of, dropped below) are sorted.
  const prefix = resource ? `${etcdKeyPrefix(resource, q.etcdPrefix, scope)}${named ? q.name : ""}` : base;
  const dir = await makeScratchDir(o.scratchDir, "hcpeb-objects-");
  const dispose = () => rm(dir, { recursive: true, force: true });
  let sorted: SortedLiveKeys;
  try {
    sorted = await sortLiveKeys(snapshot, {
      scratchDir: dir,
      prefix: Buffer.from(prefix, "latin1"),
      values: true,
      ...(o.memoryBytes !== undefined ? { memoryBytes: o.memoryBytes } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  const { keyring, ...query } = q;
  const s: SortedObjects = { runFiles: sorted.runFiles, base, query, ...(keyring ? { keys: keyring.keys } : {}) };
  return { objects: () => objectsOfRuns(s), sorted: s, dispose };
}

/** The objects of a stream's runs (ObjectStream.sorted), on whichever thread reads them. */
export function* objectsOfRuns(s: SortedObjects): Generator<FoundObject> {
  const keyring = s.keys ? keyringOfClones(s.keys) : undefined;
  const q: ObjectQuery = { ...s.query, ...(keyring ? { keyring } : {}) };
  for (const r of readSortedRuns(s.runFiles, true)) {
    const found = objectOf(r.key.toString("latin1"), r.value ?? Buffer.alloc(0), r.modRevision, q, s.base);
    if (found) yield found;
  }
}

/** The object stored under `key`, if the query selects it; throws when its value cannot be read. */
function objectOf(
  key: string,
  value: Buffer,
  modRevision: bigint,
  q: ObjectQuery,
  base: string,
): FoundObject | undefined {
  if (q.resource) {
    const where = objectOfKey(key, base);
    if (!where || (q.name !== undefined && where.name !== q.name)) return undefined;
  }
  const opened = openValue(value, q.keyring);
  if (!opened.ok) throw new OperationError(`${key}: ${opened.message}`);
  const decoded = decodeValue(opened.plain);
  if (!decoded.ok) throw new OperationError(`${key}: ${decoded.reason}`);
  if (!q.resource && q.namespace !== undefined && namespaceOf(decoded.object) !== q.namespace) return undefined;
  return {
    key,
    object: q.raw ? withRevision(decoded.object, modRevision) : readyToApply(decoded.object),
    ...(decoded.note ? { note: decoded.note } : {}),
  };
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
