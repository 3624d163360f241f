import { findResource, type ResourceType } from "./resources.js";
import { KubeStatusError } from "./status.js";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

/** What a resource URL names, as kube-apiserver's RequestInfo. */
export interface ResourceRequest {
  readonly rt: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
  readonly verb: Verb;
}

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/**
 * Parses `/api/v1/...` and `/apis/<group>/<version>/...` into a resource request; undefined for
 * discovery paths (`/api`, `/apis/<group>/<version>` and so on). Throws 404 for an unknown resource.
 */
export function parseResourcePath(pathname: string, method: string, watch: boolean): ResourceRequest | undefined {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 3) {
    group = "";
    version = parts[1] as string;
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    group = parts[1] as string;
    version = parts[2] as string;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (
    rest[0] === "namespaces" &&
    rest.length >= 3 &&
    !(rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2] as string))
  ) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  const rt = resource === undefined ? undefined : findResource(group, version, resource);
  if (!rt || extra.length > 0) {
    throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource", {});
  }
  if (subresource !== undefined && !allowedSubresource(rt, subresource)) {
    throw new KubeStatusError(404, "NotFound", "the server could not find the requested resource", {});
  }
  const verb = verbFor(method, name, watch);
  return {
    rt,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
    verb,
  };
}

function allowedSubresource(rt: ResourceType, sub: string): boolean {
  if (sub === "status") return rt.statusSubresource;
  if (sub === "scale") return rt.scaleSubresource;
  if (sub === "portforward") return rt.portForward === true;
  if (sub === "log") return rt.podLog === true;
  return false;
}

function verbFor(method: string, name: string | undefined, watch: boolean): Verb {
  switch (method) {
    case "GET":
      if (watch) return "watch";
      return name === undefined ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
    default:
      throw new KubeStatusError(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
  }
}
