import type { JsonObject } from "./json.js";
import { apiVersionOf, RESOURCES, type ResourceType, verbsOf } from "./resources.js";

/** `/version`: what `kubectl version` and client-go's discovery read. */
export function versionInfo(): JsonObject {
  return {
    major: "1",
    minor: "31",
    gitVersion: "v1.31.0+kubesim",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "go1.22.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

export function apiVersions(serverAddress: string): JsonObject {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** Groups other than core, with the one version each serves. autoscaling is there for `/scale`'s Scale kind. */
function groups(): Array<{ name: string; version: string }> {
  const out = new Map<string, string>();
  for (const r of RESOURCES) if (r.group !== "") out.set(r.group, r.version);
  out.set("autoscaling", "v1");
  return [...out].map(([name, version]) => ({ name, version }));
}

function groupEntry(name: string, version: string): JsonObject {
  const gv = { groupVersion: `${name}/${version}`, version };
  return { name, versions: [gv], preferredVersion: gv };
}

export function apiGroupList(): JsonObject {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groups().map((g) => groupEntry(g.name, g.version)),
  };
}

export function apiGroup(name: string): JsonObject | undefined {
  const g = groups().find((x) => x.name === name);
  return g ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(g.name, g.version) } : undefined;
}

function mainEntry(r: ResourceType): JsonObject {
  const entry: JsonObject = {
    name: r.resource,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: [...verbsOf(r)],
  };
  if (r.shortNames.length > 0) entry.shortNames = [...r.shortNames];
  if (!r.builtin) entry.categories = ["all"];
  return entry;
}

function subEntries(r: ResourceType): JsonObject[] {
  const out: JsonObject[] = [];
  if (r.statusSubresource) {
    out.push({
      name: `${r.resource}/status`,
      singularName: "",
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  if (r.scaleSubresource) {
    out.push({
      name: `${r.resource}/scale`,
      singularName: "",
      namespaced: r.namespaced,
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
  }
  if (r.portForward) {
    out.push({
      name: `${r.resource}/portforward`,
      singularName: "",
      namespaced: true,
      kind: "PodPortForwardOptions",
      verbs: ["create", "get"],
    });
  }
  if (r.podLog) {
    out.push({ name: `${r.resource}/log`, singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
  }
  return out;
}

/** APIResourceList of one group version (`""` is core), or undefined when it is not served. */
export function apiResourceList(group: string, version: string): JsonObject | undefined {
  const known = group === "" ? version === "v1" : groups().some((g) => g.name === group && g.version === version);
  if (!known) return undefined;
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version).flatMap((r) => [
    mainEntry(r),
    ...subEntries(r),
  ]);
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources,
  };
}

export { apiVersionOf };
