import { CancelledError, describe, EtcdError } from "../errors.js";
import type { Member, MemberStatus } from "./client.js";
import type { EtcdConnector } from "./connector.js";
import type { Endpoint } from "./endpoint.js";

/** A member that answered: where it was reached, its name from the member list, its status. */
export interface SurveyedMember {
  readonly endpoint: Endpoint;
  readonly name: string;
  readonly status: MemberStatus;
  /** The member list as this member sees it (after a bad restore, members disagree); absent when not asked. */
  readonly memberList?: readonly Member[];
}

export interface MemberSurvey {
  /** Members that answered, in the order their endpoints were given. */
  readonly members: readonly SurveyedMember[];
  /** Endpoints that did not answer, each with the reason. */
  readonly unreachable: ReadonlyArray<{ readonly endpoint: Endpoint; readonly error: string }>;
  /** The member list as the first answering member reported it (empty when none answered). */
  readonly memberList: readonly Member[];
  readonly leader: SurveyedMember | undefined;
}

export interface SurveyOptions {
  readonly signal?: AbortSignal;
  /** Deadline of each status call (default 5 s): a member that does not answer in time is unreachable. */
  readonly callTimeoutMs?: number;
}

/**
 * Status of every endpoint, asked concurrently: revision, raft term and index, leader, member ID.
 * In a quiesced backup the revisions must agree (the proof that writes stopped); in any backup the
 * leader is the default member to snapshot.
 */
export async function surveyMembers(
  endpoints: readonly Endpoint[],
  connect: EtcdConnector,
  options: SurveyOptions = {},
): Promise<MemberSurvey> {
  const answers = await Promise.all(
    endpoints.map(async (endpoint) => {
      let client: Awaited<ReturnType<EtcdConnector>> | undefined;
      try {
        client = await connect(endpoint, { callTimeoutMs: options.callTimeoutMs ?? 5000, signal: options.signal });
        const [status, members] = await Promise.all([client.status(), client.memberList()]);
        return { endpoint, status, members };
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        return { endpoint, error: describe(err) };
      } finally {
        client?.close();
      }
    }),
  );
  const memberList = answers.find((a) => a.members !== undefined)?.members ?? [];
  const members: SurveyedMember[] = [];
  const unreachable: Array<{ endpoint: Endpoint; error: string }> = [];
  for (const a of answers) {
    if (a.status === undefined) unreachable.push({ endpoint: a.endpoint, error: a.error ?? "no answer" });
    else {
      const status = a.status;
      const name = memberList.find((m) => m.id === status.memberId)?.name ?? status.memberId;
      members.push({ endpoint: a.endpoint, name, status, memberList: a.members ?? [] });
    }
  }
  return { members, unreachable, memberList, leader: members.find((m) => m.status.isLeader) };
}

/** The survey, or a one-line error naming why no endpoint answered. */
export function requireAnswers(survey: MemberSurvey): MemberSurvey {
  if (survey.members.length === 0)
    throw new EtcdError(`no etcd endpoint answered: ${survey.unreachable[0]?.error ?? "no endpoints"}`);
  return survey;
}

/** The survey as log fields: each member's revision, raft term and leadership, and who did not answer. */
export function surveyFields(survey: MemberSurvey) {
  return {
    members: survey.members.map((m) => ({
      name: m.name,
      endpoint: m.endpoint.url,
      revision: m.status.revision,
      raftTerm: m.status.raftTerm,
      isLeader: m.status.isLeader,
    })),
    unreachable: survey.unreachable.map((u) => ({ endpoint: u.endpoint.url, error: u.error })),
    leader: survey.leader?.name,
  };
}

/** True when every surveyed member reports the same revision (and at least one answered). */
export function revisionsAgree(survey: MemberSurvey): boolean {
  const revisions = new Set(survey.members.map((m) => m.status.revision));
  return revisions.size === 1;
}

/**
 * Members to try, in order: the one asked for (alone: the user chose it), else the leader, then
 * the other healthy voting members.
 */
export function snapshotCandidates(survey: MemberSurvey, wanted?: string): SurveyedMember[] {
  if (wanted !== undefined) {
    const chosen = survey.members.find((m) => m.name === wanted || m.status.memberId === wanted);
    if (!chosen) {
      const reachable = survey.members.map((m) => m.name).join(", ") || "none";
      throw new EtcdError(`no reachable member named "${wanted}"; reachable: ${reachable}`);
    }
    if (chosen.status.isLearner)
      throw new EtcdError(`member "${wanted}" is a learner: its data may lag; choose a voting member`);
    return [chosen];
  }
  const healthy = survey.members.filter((m) => !m.status.isLearner && m.status.errors.length === 0);
  return [...healthy].sort((a, b) => Number(b.status.isLeader) - Number(a.status.isLeader));
}
