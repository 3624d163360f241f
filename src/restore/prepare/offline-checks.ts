import type { Manifest } from "../../store/manifest.js";
import { block, type Check, pass, warn } from "./checks.js";
import { formatDuration } from "./expiry.js";
import { GIB, type PvSizePlan } from "./pv-size.js";
import type { RenderedHostedCluster } from "./rendered.js";
import { releaseMinor, trapsFor } from "./traps.js";

/** The longest restoreSnapshotURL item HyperShift's CRD accepts (MaxLength, from 4.20). */
export const MAX_URL_LENGTH = 1024;

export interface UrlFacts {
  readonly length: number;
  readonly scheme: string;
  readonly expiresInSeconds: number;
  readonly expiresAt: Date;
  readonly credentials: { readonly temporary: boolean; readonly expiration?: Date };
}

/** The URL checks: its length and scheme against the CRD, its lifetime against the credentials that signed it. */
export function urlChecks(u: UrlFacts): Check[] {
  const out: Check[] = [];
  out.push(
    u.length <= MAX_URL_LENGTH
      ? pass("url-length", `${u.length} characters (the CRD allows ${MAX_URL_LENGTH})`)
      : block(
          "url-length",
          `the presigned URL is ${u.length} characters, over the ${MAX_URL_LENGTH} the HostedCluster CRD allows: presign with long-term credentials (a session token makes it long) or use a shorter bucket prefix`,
        ),
  );
  out.push(
    u.scheme === "https:"
      ? pass("url-scheme", "https")
      : block(
          "url-scheme",
          `the S3 endpoint gives a ${u.scheme.replace(":", "")} URL: HyperShift's CRD requires https (restoreSnapshotURL must match ^(https|s3)://); use the endpoint's https address`,
        ),
  );
  out.push(
    pass("url-expiry", `valid for ${formatDuration(u.expiresInSeconds)}, until ${u.expiresAt.toISOString()} (max 7d)`),
  );
  const exp = u.credentials.expiration;
  if (exp && exp.getTime() < u.expiresAt.getTime()) {
    out.push(
      warn(
        "session-credentials",
        `signed with session credentials that expire at ${exp.toISOString()}: the URL stops working then, before its own expiry; apply before that or presign with long-term credentials`,
      ),
    );
  } else if (u.credentials.temporary && !exp) {
    out.push(
      warn(
        "session-credentials",
        "signed with session credentials (a session token, e.g. AWS_SESSION_TOKEN) of unknown lifetime: the URL stops working when they expire, whatever --expires says",
      ),
    );
  } else {
    out.push(
      pass(
        "session-credentials",
        u.credentials.temporary ? "session credentials outlive the URL" : "long-term credentials",
      ),
    );
  }
  return out;
}

/** What the source was: from the manifest's member survey (3 members is HighlyAvailable, 1 SingleReplica). */
export function sourcePolicy(m: Manifest): "HighlyAvailable" | "SingleReplica" | undefined {
  const n = m.members.length;
  if (n === 0) return undefined;
  return n === 1 ? "SingleReplica" : "HighlyAvailable";
}

export function encryptionTypeCheck(m: Manifest, hc: RenderedHostedCluster): Check {
  const source = m.encryption?.type;
  const target = hc.encryption.type;
  if (source === undefined) {
    return m.source.kind === "hosted-cluster"
      ? pass("encryption-type", `the source had no secret encryption; the target uses ${target}`)
      : warn(
          "encryption-type",
          "a plain etcd backup records no secret encryption: make sure the target's matches the source's",
        );
  }
  if (source !== target) {
    return block(
      "encryption-type",
      `the source encrypted secrets with ${source}, the rendered HostedCluster uses ${target}: the restored kube-apiserver could not read them; render with the source's type (${source === "kms" ? "--kms-key-arn" : "without --kms-key-arn"})`,
    );
  }
  if (source === "kms" && hc.encryption.type === "kms") {
    const arn = m.encryption?.kms?.arn;
    if (arn && hc.encryption.arn !== arn) {
      return block(
        "encryption-type",
        `the source's KMS key is ${arn}, the rendered HostedCluster uses ${hc.encryption.arn ?? "none"}: render with --kms-key-arn ${arn}`,
      );
    }
  }
  return pass("encryption-type", `${source}, as the source`);
}

export function pvSizeCheck(plan: PvSizePlan, dbBytes: number): Check {
  const db = `${(dbBytes / GIB).toFixed(2)} GiB database`;
  return plan.raised
    ? warn("pv-size", `raised from ${plan.rendered} to ${plan.size}: a ${db} needs ${plan.neededGi}Gi with headroom`)
    : pass("pv-size", `${plan.size} holds the ${db} (needs ${plan.neededGi}Gi)`);
}

export function availabilityCheck(m: Manifest, hc: RenderedHostedCluster): Check {
  const source = sourcePolicy(m);
  if (source === undefined)
    return warn("availability-policy", `the manifest has no member survey; the target is ${hc.availabilityPolicy}`);
  if (source !== hc.availabilityPolicy) {
    return warn(
      "availability-policy",
      `the source ran ${m.members.length} etcd member(s) (${source}), the rendered HostedCluster is ${hc.availabilityPolicy} (the hcp CLI renders SingleReplica unless --control-plane-availability-policy says otherwise; the field is immutable)`,
    );
  }
  return pass("availability-policy", `${hc.availabilityPolicy}, as the source (${m.members.length} member(s))`);
}

export function operatorTrapChecks(hc: RenderedHostedCluster): Check[] {
  const release = releaseMinor(hc.releaseImage);
  const { applies, unknown } = trapsFor(release, hc.availabilityPolicy);
  const out: Check[] = applies.map((t) => ({ id: `trap-${t.id}`, status: t.severity, reason: t.reason }));
  if (unknown.length > 0) {
    out.push(
      warn(
        "operator-version",
        `the release of ${hc.releaseImage ? `image ${hc.releaseImage}` : "the rendered HostedCluster (spec.release.image is empty)"} is unknown: cannot rule out ${unknown.map((t) => t.id).join(", ")}`,
      ),
    );
  } else out.push(pass("operator-version", `release ${release}: ${applies.length} known trap(s) apply`));
  return out;
}

export function shapeCheck(hc: RenderedHostedCluster): Check {
  return hc.sharded
    ? block(
        "etcd-shape",
        "the rendered HostedCluster shards etcd: a snapshot holds one etcd, shards cannot be restored from it",
      )
    : pass("etcd-shape", "one managed etcd");
}
