import type { ResourceRequest, Verb } from "./request-info.js";
import { qualifiedResource } from "./resources.js";
import { KubeStatusError, reasonForCode } from "./status.js";

/** Which requests a fault answers: verb, resource (`deployments/scale` for a subresource), optionally namespace and name. */
export interface FaultMatch {
  readonly verb: Verb;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

export interface FaultRule extends FaultMatch {
  /** How many matching requests to answer this way (default 1). */
  readonly times?: number;
  readonly code: number;
  readonly message?: string;
}

interface ActiveFault {
  readonly match: FaultMatch;
  remaining: number;
  readonly make: (req: ResourceRequest) => KubeStatusError;
}

/**
 * Answers the next N requests matching (verb, resource) with a chosen Status instead of serving
 * them: the failures a backup must survive (a 500 on the scale-up, an RBAC denial).
 */
export class FaultInjector {
  private readonly faults: ActiveFault[] = [];

  constructor(private readonly user: string) {}

  inject(rule: FaultRule): void {
    this.add(rule, rule.times ?? 1, () => {
      const message = rule.message ?? `kubesim: injected ${rule.code} for ${rule.verb} ${rule.resource}`;
      return new KubeStatusError(rule.code, reasonForCode(rule.code), message, {});
    });
  }

  /** An RBAC denial worded as kube-apiserver words it. */
  forbid(match: FaultMatch & { readonly times?: number; readonly user?: string }): void {
    const user = match.user ?? this.user;
    this.add(match, match.times ?? 1, (req) => forbidden(req, user));
  }

  clear(): void {
    this.faults.length = 0;
  }

  /** Pending answers not yet used. */
  get pending(): number {
    return this.faults.reduce((n, f) => n + f.remaining, 0);
  }

  take(req: ResourceRequest): KubeStatusError | undefined {
    const resource = req.subresource ? `${req.rt.resource}/${req.subresource}` : req.rt.resource;
    const i = this.faults.findIndex(
      (f) =>
        f.match.verb === req.verb &&
        f.match.resource === resource &&
        (f.match.namespace === undefined || f.match.namespace === req.namespace) &&
        (f.match.name === undefined || f.match.name === req.name),
    );
    const fault = this.faults[i];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(i, 1);
    return fault.make(req);
  }

  private add(match: FaultMatch, times: number, make: (req: ResourceRequest) => KubeStatusError): void {
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`a fault needs times >= 1, got ${times}`);
    this.faults.push({ match, remaining: times, make });
  }
}

/** An RBAC denial as kube-apiserver words it. */
export function forbidden(req: ResourceRequest, user: string): KubeStatusError {
  const resource = req.subresource ? `${req.rt.resource}/${req.subresource}` : req.rt.resource;
  const subject = req.name === undefined ? qualifiedResource(req.rt) : `${qualifiedResource(req.rt)} "${req.name}"`;
  const where = req.namespace === undefined ? "at the cluster scope" : `in the namespace "${req.namespace}"`;
  return new KubeStatusError(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${user}" cannot ${req.verb} resource "${resource}" in API group "${req.rt.group}" ${where}`,
    { ...(req.name !== undefined ? { name: req.name } : {}), group: req.rt.group, kind: req.rt.resource },
  );
}
