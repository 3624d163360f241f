import type { MemberSurvey } from "../etcd/survey.js";

/** One member as it answered, under the name of the pod (or endpoint) it was reached through. */
export interface ProvenMember {
  readonly at: string;
  readonly endpoint: string;
  readonly name: string;
  readonly memberId: string;
  readonly clusterId: string;
  readonly leaderId: string;
  readonly isLeader: boolean;
  readonly revision: number;
  readonly raftTerm: number;
  /** Names in this member's member list. */
  readonly memberList: readonly string[];
}

/** What etcd itself said after the restore. */
export interface EtcdEvidence {
  readonly expectedMembers: number;
  readonly backupRevision?: number;
  readonly members: readonly ProvenMember[];
  readonly unreachable: ReadonlyArray<{ readonly at: string; readonly endpoint: string; readonly error: string }>;
}

/** A failed check: one line; `fatal` when waiting longer cannot change it. */
export interface EtcdFinding {
  readonly check: "reachable" | "cluster-id" | "members" | "leader" | "revisions" | "backup-revision";
  readonly line: string;
  readonly fatal: boolean;
}

/** `at` names each answer: the pod a port-forward or pod IP reached, else the endpoint. */
export function evidenceFrom(
  survey: MemberSurvey,
  at: (endpointUrl: string) => string,
  expectedMembers: number,
  backupRevision: number | undefined,
): EtcdEvidence {
  return {
    expectedMembers,
    ...(backupRevision !== undefined ? { backupRevision } : {}),
    members: survey.members.map((m) => ({
      at: at(m.endpoint.url),
      endpoint: m.endpoint.url,
      name: m.name,
      memberId: m.status.memberId,
      clusterId: m.status.clusterId,
      leaderId: m.status.leaderId,
      isLeader: m.status.isLeader,
      revision: m.status.revision,
      raftTerm: m.status.raftTerm,
      memberList: (m.memberList ?? []).map((x) => x.name || x.id),
    })),
    unreachable: survey.unreachable.map((u) => ({ at: at(u.endpoint.url), endpoint: u.endpoint.url, error: u.error })),
  };
}

/**
 * The proof that the restore came back whole: every member answers; all answer for one cluster
 * (a restore where each member bootstrapped alone gives each its own cluster ID: the split brain
 * HyperShift's etcd-init produced before OCPBUGS-99534, which etcd's health checks and the
 * EtcdAvailable condition do not see); the member list has the StatefulSet's N members; one
 * leader; one revision; and that revision is at least the backup's.
 */
export function judgeEtcd(e: EtcdEvidence): EtcdFinding[] {
  const findings: EtcdFinding[] = [];
  for (const u of e.unreachable) {
    findings.push({ check: "reachable", fatal: false, line: `${u.at} did not answer (${u.endpoint}): ${u.error}` });
  }
  if (e.members.length === 0) return findings;
  const clusters = groupBy(e.members, (m) => m.clusterId);
  if (clusters.size > 1) {
    const ids = e.members.map((m) => `${m.at}: ${m.clusterId}`).join(", ");
    const leaders = e.members.filter((m) => m.isLeader).length;
    findings.push({
      check: "cluster-id",
      fatal: true,
      line: `split brain: ${e.members.length} members report ${clusters.size} different cluster IDs (${ids}), ${leaders} of them leaders — each restored the snapshot as its own cluster; restore again with one --initial-cluster for all members`,
    });
  }
  const wrongLists = e.members.filter((m) => m.memberList.length !== e.expectedMembers);
  // HyperShift's etcd-init restored every member with etcdctl's defaults (name "default", one
  // peer URL, one token), so each pod bootstraps the same one-member cluster: one cluster ID, one
  // member ID, and every pod its own leader. Only the member lists and the leaders tell.
  const selfLeaders = e.members.filter((m) => m.isLeader);
  const aloneAlike = clusters.size === 1 && selfLeaders.length > 1 && wrongLists.length > 0;
  if (aloneAlike) {
    const ids = [...new Set(e.members.map((m) => m.memberId))];
    findings.push({
      check: "cluster-id",
      fatal: true,
      line: `split brain: ${selfLeaders.length} members (${selfLeaders.map((m) => m.at).join(", ")}) each lead a cluster of their own under the same cluster ID ${e.members[0]?.clusterId}${ids.length === 1 ? ` as the same member ${ids[0]}` : ""} — each restored the snapshot alone with etcdctl's defaults (OCPBUGS-99534); restore again with one --initial-cluster for all members`,
    });
  }
  if (wrongLists.length > 0) {
    const lists = wrongLists.map((m) => `${m.at} lists ${m.memberList.length} (${m.memberList.join(", ")})`).join("; ");
    findings.push({
      check: "members",
      fatal: clusters.size > 1 || aloneAlike,
      line: `member list does not have the StatefulSet's ${e.expectedMembers} members: ${lists}`,
    });
  }
  const listed = new Set(e.members.flatMap((m) => m.memberList));
  const answered = new Set(e.members.map((m) => m.name));
  const silent = [...listed]
    .filter((n) => !answered.has(n))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  if (clusters.size === 1 && !aloneAlike && silent.length > 0 && e.unreachable.length === 0) {
    findings.push({
      check: "reachable",
      // Nothing asks them on a later look either: --endpoints left them out, or no pod serves them.
      fatal: true,
      line: `member${silent.length > 1 ? "s" : ""} ${silent.join(", ")} of the member list ${silent.length > 1 ? "were" : "was"} not asked: pass every member's endpoint`,
    });
  }
  if (clusters.size === 1 && !aloneAlike) {
    const leaders = new Set(e.members.map((m) => m.leaderId));
    if (leaders.has("0")) findings.push({ check: "leader", fatal: false, line: "no leader: etcd has not elected one" });
    else if (leaders.size > 1 || e.members.filter((m) => m.isLeader).length > 1)
      findings.push({
        check: "leader",
        fatal: false,
        line: `members disagree on the leader (${e.members.map((m) => `${m.at}: ${m.leaderId}`).join(", ")})`,
      });
    const revisions = new Set(e.members.map((m) => m.revision));
    if (revisions.size > 1)
      findings.push({
        check: "revisions",
        fatal: false,
        line: `revisions disagree: ${e.members.map((m) => `${m.at} at ${m.revision}`).join(", ")}`,
      });
  }
  if (e.backupRevision !== undefined) {
    const below = e.members.filter((m) => m.revision < (e.backupRevision as number));
    if (below.length > 0)
      findings.push({
        check: "backup-revision",
        fatal: true,
        line: `revision below the backup's ${e.backupRevision}: ${below.map((m) => `${m.at} at ${m.revision}`).join(", ")} — etcd does not hold the backup's data (an older snapshot, or a member that kept its old data)`,
      });
  }
  return findings;
}

function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const i of items) {
    const k = key(i);
    out.set(k, [...(out.get(k) ?? []), i]);
  }
  return out;
}
