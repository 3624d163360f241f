import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { OperationError } from "../errors.js";
import { isObject } from "./json.js";
import type { Schema } from "./schema.js";

/** The real HyperShift CRDs (Default feature set), copied from openshift/hypershift; see crds/README.md. */
export const CRD_FILES: Readonly<Record<string, string>> = {
  HostedCluster: "hostedclusters-Hypershift-Default.crd.yaml",
  HostedControlPlane: "hostedcontrolplanes-Hypershift-Default.crd.yaml",
  NodePool: "nodepools-Default.crd.yaml",
};

// Running from the sources the YAML sits beside this module; `make build` copies it beside the compiled
// one (dist/src/kubesim/crds); a dist built by plain `tsc` still finds the source tree.
const CANDIDATE_DIRS = [new URL("./crds/", import.meta.url), new URL("../../../src/kubesim/crds/", import.meta.url)];

export function crdDir(): string {
  for (const dir of CANDIDATE_DIRS) {
    const path = fileURLToPath(dir);
    if (existsSync(path)) return path;
  }
  throw new OperationError(
    `kubesim: the CRD directory is missing (looked in ${CANDIDATE_DIRS.map((d) => fileURLToPath(d)).join(", ")})`,
  );
}

const cache = new Map<string, Schema>();

/** The openAPIV3Schema of the served (v1beta1) version of `kind`'s CRD. */
export function crdSchema(kind: string): Schema {
  const hit = cache.get(kind);
  if (hit) return hit;
  const file = CRD_FILES[kind];
  if (!file) throw new OperationError(`kubesim: no CRD for ${kind}`);
  const doc = yaml.load(readFileSync(`${crdDir()}${file}`, "utf8"));
  const versions = isObject(doc) && isObject(doc.spec) ? doc.spec.versions : undefined;
  const v1beta1 = Array.isArray(versions) ? versions.find((v) => isObject(v) && v.name === "v1beta1") : undefined;
  const schema = isObject(v1beta1) && isObject(v1beta1.schema) ? v1beta1.schema.openAPIV3Schema : undefined;
  if (!isObject(schema)) throw new OperationError(`kubesim: ${file} has no v1beta1 openAPIV3Schema`);
  cache.set(kind, schema as Schema);
  return schema as Schema;
}
