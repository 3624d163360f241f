import { join } from "node:path";
import protobuf from "protobufjs";
import { packageRoot } from "../package-info.js";
import { inSea, seaJson } from "../sea.js";

/**
 * The Kubernetes protobuf schemas vendored from kubernetes/api and kubernetes/apimachinery
 * (proto/k8s, with their licence), loaded once, on first use.
 */
const FILES = [
  "k8s.io/api/core/v1/generated.proto",
  "k8s.io/api/apps/v1/generated.proto",
  "k8s.io/api/batch/v1/generated.proto",
  "k8s.io/api/rbac/v1/generated.proto",
];

/** API group → the proto package of its types (built-in groups only). */
const PACKAGES: Readonly<Record<string, string>> = {
  "": "k8s.io.api.core.v1",
  apps: "k8s.io.api.apps.v1",
  batch: "k8s.io.api.batch.v1",
  "rbac.authorization.k8s.io": "k8s.io.api.rbac.v1",
};

let root: protobuf.Root | undefined;

export function kubeSchemas(): protobuf.Root {
  if (root) return root;
  if (inSea()) {
    // The single executable carries the parsed schemas (scripts/build-sea.ts), not the .proto files.
    root = protobuf.Root.fromJSON(seaJson<protobuf.INamespace>("k8s.proto.json"));
    root.resolveAll();
    return root;
  }
  const base = join(packageRoot(), "proto", "k8s");
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => (target.startsWith(base) ? target : join(base, target));
  r.loadSync(FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

/** The message type of `apiVersion`/`kind`, when its schema is one we carry. */
export function messageType(apiVersion: string, kind: string): protobuf.Type | undefined {
  const slash = apiVersion.lastIndexOf("/");
  const group = slash === -1 ? "" : apiVersion.slice(0, slash);
  const version = slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
  const pkg = PACKAGES[group];
  if (!pkg || version !== "v1" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  const found = kubeSchemas().lookup(`${pkg}.${kind}`);
  return found instanceof protobuf.Type ? found : undefined;
}

export function unknownType(): protobuf.Type {
  return kubeSchemas().lookupType("k8s.io.apimachinery.pkg.runtime.Unknown");
}

export function objectMetaType(): protobuf.Type {
  return kubeSchemas().lookupType("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta");
}
