import { Document, isMap, isNode, isScalar } from "yaml";
import { type RenderedManifests, stringifyDocuments } from "./rendered.js";

/** What the restore changes in the rendered manifests; everything else stays as rendered. */
export interface RenderPatch {
  readonly restoreSnapshotURL: string;
  /** Set only when the rendered size is too small for the backup. */
  readonly pvSize?: string;
  /** The saved aescbc key, for the active key Secret's `data.key`. */
  readonly key?: Uint8Array;
  /** A second saved key, for the HostedCluster's `backupKey` and its Secret (added when not rendered). */
  readonly backupKey?: { readonly key: Uint8Array; readonly secretName: string };
}

export interface Change {
  /** `HostedCluster clusters/example`, `Secret clusters/example-etcd-encryption-key`. */
  readonly object: string;
  readonly path: string;
  /** What was there ("absent" when the field was added); never a secret's value. */
  readonly from: string;
  readonly to: string;
}

export interface PatchedManifests {
  readonly text: string;
  readonly changes: readonly Change[];
}

const ETCD = ["spec", "etcd"];
const STORAGE = [...ETCD, "managed", "storage"];

/**
 * Patches the restore into the rendered manifests: Managed etcd on a PersistentVolume large enough,
 * the snapshot URL, and the saved key in the active key Secret. Comments, order and every other field
 * are kept; the documents are patched in place.
 */
export function patchRendered(r: RenderedManifests, patch: RenderPatch): PatchedManifests {
  const changes: Change[] = [];
  const hc = r.hostedCluster;
  const hcDoc = r.docs[hc.index] as Document;
  const hcName = `HostedCluster ${hc.namespace}/${hc.name}`;
  const set = (doc: Document, object: string, path: string[], value: unknown, shown: (v: unknown) => string) => {
    const before = doc.getIn(path) as unknown;
    const beforeJs = toJs(before);
    if (JSON.stringify(beforeJs) === JSON.stringify(value)) return;
    const node = doc.getIn(path, true);
    if (isScalar(node) && (value === null || typeof value !== "object")) {
      // Setting the value of the node it has keeps the comments on that line.
      node.value = value;
    } else {
      const fresh = doc.createNode(value);
      if (isNode(node)) {
        fresh.commentBefore = node.commentBefore;
        fresh.comment = node.comment;
      }
      doc.setIn(path, fresh);
    }
    changes.push({
      object,
      path: path.join("."),
      from: before === undefined ? "absent" : shown(beforeJs),
      to: shown(value),
    });
  };
  const plain = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  if (hcDoc.hasIn([...ETCD, "unmanaged"])) {
    hcDoc.deleteIn([...ETCD, "unmanaged"]);
    changes.push({ object: hcName, path: "spec.etcd.unmanaged", from: "set", to: "absent" });
  }
  set(hcDoc, hcName, [...ETCD, "managementType"], "Managed", plain);
  set(hcDoc, hcName, [...STORAGE, "type"], "PersistentVolume", plain);
  if (patch.pvSize) set(hcDoc, hcName, [...STORAGE, "persistentVolume", "size"], patch.pvSize, plain);
  set(hcDoc, hcName, [...STORAGE, "restoreSnapshotURL"], [patch.restoreSnapshotURL], () => "[presigned URL]");
  const putKey = (doc: Document, secretName: string, key: Uint8Array, shown: string) => {
    const name = `Secret ${hc.namespace}/${secretName}`;
    const saved = Buffer.from(key).toString("base64");
    set(doc, name, ["data", "key"], saved, (v) => (v === saved ? shown : "[the rendered key]"));
    // stringData wins over data when the API server stores a Secret: a rendered stringData.key would undo the key.
    if (doc.hasIn(["stringData", "key"])) {
      doc.deleteIn(["stringData", "key"]);
      const rest = doc.getIn(["stringData"]);
      if (isMap(rest) && rest.items.length === 0) doc.deleteIn(["stringData"]);
      changes.push({ object: name, path: "stringData.key", from: "[key]", to: "absent" });
    }
  };
  if (patch.key && r.keySecret)
    putKey(r.docs[r.keySecret.index] as Document, r.keySecret.name, patch.key, "[the saved key]");
  if (patch.backupKey) {
    const { secretName } = patch.backupKey;
    set(hcDoc, hcName, ["spec", "secretEncryption", "aescbc", "backupKey", "name"], secretName, plain);
    let doc = r.backupKeySecret?.name === secretName ? (r.docs[r.backupKeySecret.index] as Document) : undefined;
    if (!doc) {
      // Before the HostedCluster: `kubectl apply -f` creates in file order, and HyperShift reads the Secret at once.
      // Keys in the order Go prints them, as the hcp CLI rendered the rest.
      doc = new Document({
        apiVersion: "v1",
        data: {},
        kind: "Secret",
        metadata: { name: secretName, namespace: hc.namespace },
        type: "Opaque",
      });
      if (doc.directives) doc.directives.docStart = true;
      r.docs.splice(hc.index, 0, doc);
      changes.push({ object: `Secret ${hc.namespace}/${secretName}`, path: "(object)", from: "absent", to: "added" });
    }
    putKey(doc, secretName, patch.backupKey.key, "[the saved backup key]");
  }
  return { text: stringifyDocuments(r.docs, r.format), changes };
}

function toJs(node: unknown): unknown {
  if (node && typeof node === "object" && "toJSON" in node && typeof node.toJSON === "function") return node.toJSON();
  return node;
}
