/**
 * Known ways a HyperShift release's restore goes wrong, by the hosted cluster's release (its
 * control-plane operator runs etcd-init) and availability policy. Sources: shared/reference/
 * hypershift-etcd.md, sections (b) and (e); add a row when a new one is found, remove one when the
 * fixed releases are all that is left in the field.
 */
export interface OperatorTrap {
  readonly id: string;
  /** Releases affected: from `from` (inclusive) up to `before` (exclusive), `major.minor`. */
  readonly from?: string;
  readonly before?: string;
  readonly policy?: "HighlyAvailable" | "SingleReplica";
  readonly severity: "warn" | "block";
  readonly reason: string;
}

export const OPERATOR_TRAPS: readonly OperatorTrap[] = [
  {
    id: "url-per-replica",
    before: "4.13",
    severity: "block",
    reason:
      "releases before 4.13 read one restoreSnapshotURL per etcd replica (RESTORE_URL_ETCD_<n>), not the single URL this tool writes (OCPBUGS-22690)",
  },
  {
    id: "etcdctl-restore-removed",
    from: "4.21",
    before: "4.22",
    severity: "warn",
    reason:
      "4.21 ships etcd 3.6, whose etcdctl has no 'snapshot restore', while its etcd-init still calls it (OCPBUGS-82166, fixed from 4.22): etcd-init may fail; try the restore on this release first",
  },
  {
    id: "restore-in-place",
    before: "4.22",
    severity: "warn",
    reason:
      "before 4.22 etcd-init restores straight into the data directory: if one attempt fails half-way, the next sees a non-empty directory and silently skips the restore; delete the data-etcd-* PVCs before retrying",
  },
  {
    id: "ha-split-brain",
    policy: "HighlyAvailable",
    severity: "warn",
    reason:
      "with 3 etcd replicas each pod restores the snapshot as its own one-member cluster (split brain, OCPBUGS-99534; fix openshift/hypershift#9048 is in no release this tool knows): run 'restore watch' afterwards, it checks the member list and revisions",
  },
];

/** `4.18` from `quay.io/openshift-release-dev/ocp-release:4.18.12-multi`; undefined for a digest or an unknown tag. */
export function releaseMinor(image: string | undefined): string | undefined {
  const tag = image?.split("@")[0]?.split("/").pop()?.split(":")[1];
  const m = tag ? /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-.].*)?$/.exec(tag) : null;
  return m ? `${m[1]}.${m[2]}` : undefined;
}

function compareMinor(a: string, b: string): number {
  const [am = 0, an = 0] = a.split(".").map(Number);
  const [bm = 0, bn = 0] = b.split(".").map(Number);
  return am - bm || an - bn;
}

/** The traps that apply to a release (undefined: unknown, so the version-bound ones cannot be ruled out). */
export function trapsFor(
  release: string | undefined,
  policy: "HighlyAvailable" | "SingleReplica",
): { readonly applies: readonly OperatorTrap[]; readonly unknown: readonly OperatorTrap[] } {
  const applies: OperatorTrap[] = [];
  const unknown: OperatorTrap[] = [];
  for (const t of OPERATOR_TRAPS) {
    if (t.policy && t.policy !== policy) continue;
    const bounded = t.from !== undefined || t.before !== undefined;
    if (bounded && release === undefined) {
      unknown.push(t);
      continue;
    }
    if (release !== undefined) {
      if (t.from && compareMinor(release, t.from) < 0) continue;
      if (t.before && compareMinor(release, t.before) >= 0) continue;
    }
    applies.push(t);
  }
  return { applies, unknown };
}
