import yaml from "js-yaml";
import type { KubeObject } from "./manifests.js";

/** One multi-document YAML stream, as `kubectl apply -f -` reads it. */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => yaml.dump(o, { noRefs: true, lineWidth: -1 })).join("---\n");
}
