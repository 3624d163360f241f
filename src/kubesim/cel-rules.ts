import type { FieldError } from "./field-errors.js";
import { deepEqual, getPath, isObject, type Json } from "./json.js";

/**
 * The CRDs' x-kubernetes-validations (CEL) rules the simulator enforces, written by hand: there is no
 * CEL interpreter here. Each rule runs, as in kube-apiserver, only when its field is present; a
 * transition rule (one that reads `oldSelf`) only on update and only when the old object had the field.
 * docs/testing.md lists them.
 */
interface CelRule {
  readonly kinds: readonly string[];
  readonly path: readonly string[];
  readonly message: string;
  readonly transition: boolean;
  readonly holds: (self: Json, oldSelf: Json | undefined) => boolean;
}

const PAUSED_UNTIL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*$/;
const HC = ["HostedCluster"];
const BOTH = ["HostedCluster", "HostedControlPlane"];
const STORAGE = ["spec", "etcd", "managed", "storage"];

function has(o: Json, key: string): boolean {
  return isObject(o) && o[key] !== undefined;
}

export const CEL_RULES: readonly CelRule[] = [
  {
    kinds: HC,
    path: ["spec", "pausedUntil"],
    message: "PausedUntil must be a date in RFC3339 format or 'True', 'true', 'False' or 'false'",
    transition: false,
    holds: (s) => typeof s === "string" && (PAUSED_UNTIL.test(s) || ["true", "false", "True", "False"].includes(s)),
  },
  {
    kinds: BOTH,
    path: ["spec", "etcd"],
    message: "Only managed configuration must be set when managementType is Managed",
    transition: false,
    holds: (s) => (isObject(s) && s.managementType === "Managed" ? has(s, "managed") : !has(s, "managed")),
  },
  {
    kinds: BOTH,
    path: ["spec", "etcd"],
    message: "Only unmanaged configuration must be set when managementType is Unmanaged",
    transition: false,
    holds: (s) => (isObject(s) && s.managementType === "Unmanaged" ? has(s, "unmanaged") : !has(s, "unmanaged")),
  },
  {
    kinds: BOTH,
    path: ["spec", "etcd", "managementType"],
    message: "managementType is immutable",
    transition: true,
    holds: (s, o) => deepEqual(s, o),
  },
  {
    kinds: BOTH,
    path: STORAGE,
    message: "restoreSnapshotURL cannot be added or removed after creation",
    transition: true,
    holds: (s, o) => has(s, "restoreSnapshotURL") === has(o ?? null, "restoreSnapshotURL"),
  },
  {
    kinds: BOTH,
    path: [...STORAGE, "persistentVolume", "size"],
    message: "Etcd PV storage size is immutable",
    transition: true,
    holds: (s, o) => deepEqual(s, o),
  },
  {
    kinds: BOTH,
    path: [...STORAGE, "persistentVolume", "storageClassName"],
    message: "storageClassName is immutable",
    transition: true,
    holds: (s, o) => deepEqual(s, o),
  },
  {
    kinds: BOTH,
    path: [...STORAGE, "restoreSnapshotURL"],
    message: "RestoreSnapshotURL shouldn't contain more than 1 entry",
    transition: false,
    holds: (s) => Array.isArray(s) && s.length <= 1,
  },
  {
    kinds: BOTH,
    path: [...STORAGE, "restoreSnapshotURL"],
    message: "restoreSnapshotURL is immutable",
    transition: true,
    holds: (s, o) => deepEqual(s, o),
  },
  {
    kinds: BOTH,
    path: [...STORAGE, "restoreSnapshotURL"],
    message: "restoreSnapshotURL must be a valid URL with scheme https or s3",
    transition: false,
    holds: (s) => Array.isArray(s) && (s.length === 0 || (typeof s[0] === "string" && /^(https|s3):\/\/.*/.test(s[0]))),
  },
  {
    kinds: BOTH,
    path: ["spec"],
    message: "secretEncryption cannot be removed once configured",
    transition: true,
    holds: (s, o) => !has(o ?? null, "secretEncryption") || has(s, "secretEncryption"),
  },
  {
    kinds: HC,
    path: ["spec", "platform", "type"],
    message: "Type is immutable",
    transition: true,
    holds: (s, o) => deepEqual(s, o),
  },
  {
    kinds: HC,
    path: ["spec", "release", "image"],
    message: "Image must start with a word character (letters, digits, or underscores) and contain no white spaces",
    transition: false,
    holds: (s) => typeof s === "string" && /^(\w+\S+)$/.test(s),
  },
];

function celTypeName(v: Json): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/** Field errors of the rules above for `obj` (and `old` on update). */
export function checkCelRules(kind: string, obj: Json, old: Json | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const rule of CEL_RULES) {
    if (!rule.kinds.includes(kind)) continue;
    const self = getPath(obj, rule.path);
    if (self === undefined || self === null) continue;
    let oldSelf: Json | undefined;
    if (rule.transition) {
      oldSelf = old === undefined ? undefined : getPath(old, rule.path);
      if (oldSelf === undefined || oldSelf === null) continue;
    }
    if (!rule.holds(self, oldSelf)) {
      // kube-apiserver shows the CEL type of the value, not the value itself.
      errors.push({ field: rule.path.join("."), type: "Invalid", value: celTypeName(self), detail: rule.message });
    }
  }
  return errors;
}
