// Pure: what `restore watch` concludes from an etcd-init log, a pod's init container status, and
// what etcd members answered. The log texts are what HyperShift's etcd-init prints: curl's progress
// meter on stderr, then S3's error body (AWS's wording) that the script cats before `exit 1`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { withoutUrlSecrets } from "../../src/redact.js";
import { type EtcdEvidence, judgeEtcd, type ProvenMember } from "../../src/restore/watch-etcd.js";
import { diagnoseEtcdLog } from "../../src/restore/watch-etcd-log.js";
import { diagnoseInitLog } from "../../src/restore/watch-init-log.js";
import { hasExited, initContainerView, judgeInit } from "../../src/restore/watch-pods.js";

const CURL_PROGRESS = `  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current
                                 Dload  Upload   Total   Spent    Left  Speed
\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0\r100   446    0   446    0     0   2977      0 --:--:-- --:--:-- --:--:--  2993
`;
const s3Body = (code: string, message: string, extra = "") =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>8KQ3F1</RequestId><HostId>aGVsbG8=</HostId></Error>`;

describe("diagnoseInitLog", () => {
  it("an expired presigned URL: one line that says to presign again", () => {
    const d = diagnoseInitLog(
      CURL_PROGRESS +
        s3Body(
          "AccessDenied",
          "Request has expired",
          "<X-Amz-Expires>3600</X-Amz-Expires><Expires>2026-11-30T10:00:00Z</Expires><ServerTime>2026-11-30T12:00:00Z</ServerTime>",
        ),
      1,
    );
    assert.deepEqual(d, {
      kind: "s3-error",
      fatal: true,
      summary: "S3 refused the snapshot URL: Request has expired — run restore prepare again for a fresh URL",
    });
  });

  it("access denied, signature mismatch, missing key: the code, S3's message and what to do", () => {
    const denied = diagnoseInitLog(s3Body("AccessDenied", "Access Denied"), 1);
    assert.match(denied.summary, /^S3 refused the snapshot URL: AccessDenied: Access Denied — .*s3:GetObject/);
    assert.equal(denied.fatal, true);
    const sig = diagnoseInitLog(
      s3Body(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        "<AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20261130T100000Z</StringToSign><SignatureProvided>deadbeefcafe</SignatureProvided>",
      ),
      1,
    );
    assert.match(sig.summary, /^S3 refused the snapshot URL: SignatureDoesNotMatch: The request signature/);
    assert.doesNotMatch(sig.summary, /deadbeefcafe/);
    const missing = diagnoseInitLog(s3Body("NoSuchKey", "The specified key does not exist."), 1);
    assert.match(missing.summary, /NoSuchKey: The specified key does not exist\. — the snapshot object is not there/);
    assert.equal(missing.summary.includes("\n"), false);
  });

  it("the skip: etcd-init exits 0 without restoring because the volume held data", () => {
    const d = diagnoseInitLog("/var/lib/data not empty, not restoring snapshot\n", 0);
    assert.equal(d.kind, "skipped");
    assert.equal(d.fatal, true);
    assert.match(d.summary, /^skipped the restore: \/var\/lib\/data was not empty.*data-etcd-\* PVCs/);
  });

  it("curl could not connect: may pass, so not final by itself", () => {
    const d = diagnoseInitLog(
      `${CURL_PROGRESS}curl: (6) Could not resolve host: bucket.s3.us-east-1.amazonaws.com\n`,
      6,
    );
    assert.equal(d.kind, "download-failed");
    assert.equal(d.fatal, false);
    assert.match(d.summary, /curl: \(6\) Could not resolve host: bucket\.s3\.us-east-1\.amazonaws\.com — /);
  });

  it("not a snapshot, no restore tool, and anything else: the last line that says something", () => {
    assert.equal(
      diagnoseInitLog("Error: snapshot missing hash but --skip-hash-check=false\n", 1).kind,
      "not-a-snapshot",
    );
    assert.equal(
      diagnoseInitLog('Error: unknown command "restore" for "etcdctl snapshot"\n', 1).kind,
      "no-restore-tool",
    );
    const other = diagnoseInitLog(`${CURL_PROGRESS}mv: cannot move '/var/lib/restore': No space left on device\n`, 1);
    assert.deepEqual(other, {
      kind: "other",
      fatal: false,
      summary: "exited 1: mv: cannot move '/var/lib/restore': No space left on device",
    });
  });
});

describe("diagnoseEtcdLog", () => {
  it("the last fatal entry of etcd's JSON log, else the last line", () => {
    const log = [
      '{"level":"info","msg":"starting"}',
      '{"level":"fatal","msg":"failed to open backend","error":"database file is corrupt"}',
      '{"level":"info","msg":"after"}',
    ].join("\n");
    assert.equal(diagnoseEtcdLog(log), "failed to open backend: database file is corrupt");
    assert.equal(diagnoseEtcdLog("panic: runtime error\n\n"), "panic: runtime error");
    assert.equal(diagnoseEtcdLog(""), "no output");
  });
});

describe("withoutUrlSecrets", () => {
  it("removes SigV4 signatures and session tokens, keeps the rest of the URL", () => {
    const url =
      "https://b.s3.us-east-1.amazonaws.com/k/snapshot.db?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261130T100000Z&X-Amz-Expires=3600&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE&X-Amz-Signature=0123456789abcdef&X-Amz-SignedHeaders=host";
    assert.equal(
      withoutUrlSecrets(url),
      "https://b.s3.us-east-1.amazonaws.com/k/snapshot.db?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261130T100000Z&X-Amz-Expires=3600&X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-SignedHeaders=host",
    );
    assert.equal(
      withoutUrlSecrets("<CanonicalRequest>GET\n/k\nX-Amz-Security-Token=abc</CanonicalRequest>"),
      "<CanonicalRequest>***</CanonicalRequest>",
    );
  });
});

const pod = (initStatus: object | undefined, ready = false, withInit = true): V1Pod =>
  ({
    metadata: { name: "etcd-1", uid: "u1" },
    spec: { containers: [{ name: "etcd" }], initContainers: withInit ? [{ name: "etcd-init" }] : [] },
    status: {
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      initContainerStatuses: initStatus ? [{ name: "etcd-init", ...initStatus }] : [],
    },
  }) as unknown as V1Pod;

describe("judgeInit", () => {
  it("running, waiting to start, and no etcd-init at all", () => {
    assert.deepEqual(judgeInit(initContainerView(pod({ restartCount: 0, state: { running: {} } })), undefined), {
      outcome: "pending",
      what: "etcd-init is still running (downloading or restoring)",
    });
    assert.equal(judgeInit(initContainerView(pod(undefined)), undefined).outcome, "pending");
    assert.equal(judgeInit(initContainerView(pod(undefined, true, false)), undefined).outcome, "absent");
  });

  it("exit 0 is a restore unless the log says it skipped", () => {
    const done = initContainerView(pod({ restartCount: 0, state: { terminated: { exitCode: 0 } } }, true));
    assert.deepEqual(judgeInit(done, "+---------+\n| HASH |\n"), { outcome: "restored" });
    const skipped = judgeInit(done, "/var/lib/data not empty, not restoring snapshot\n");
    assert.equal(skipped.outcome, "failed");
  });

  it("CrashLoopBackOff: the last instance's log, with the restart count; a network error is final after 3 tries", () => {
    const looping = (restartCount: number) =>
      initContainerView(
        pod({
          restartCount,
          state: { waiting: { reason: "CrashLoopBackOff" } },
          lastState: { terminated: { exitCode: 6 } },
        }),
      );
    const once = judgeInit(looping(1), "curl: (7) Failed to connect to s3 port 443\n");
    assert.ok(once.outcome === "failed" && !once.diagnosis.fatal);
    assert.match(once.diagnosis.summary, /\(CrashLoopBackOff, 1 restarts\)$/);
    const thrice = judgeInit(looping(3), "curl: (7) Failed to connect to s3 port 443\n");
    assert.ok(thrice.outcome === "failed" && thrice.diagnosis.fatal);
    // The retry is running: its log is the new attempt's, not a verdict on it.
    const retrying = initContainerView(
      pod({ restartCount: 2, state: { running: {} }, lastState: { terminated: { exitCode: 6 } } }),
    );
    assert.equal(hasExited(retrying), false);
    assert.equal(judgeInit(retrying, undefined).outcome, "pending");
  });
});

const member = (at: string, over: Partial<ProvenMember> = {}): ProvenMember => ({
  at,
  endpoint: `https://127.0.0.1:1/${at}`,
  name: at,
  memberId: `id-${at}`,
  clusterId: "c1",
  leaderId: "id-etcd-0",
  isLeader: at === "etcd-0",
  revision: 100,
  raftTerm: 2,
  memberList: ["etcd-0", "etcd-1", "etcd-2"],
  ...over,
});
const evidence = (members: ProvenMember[], over: Partial<EtcdEvidence> = {}): EtcdEvidence => ({
  expectedMembers: 3,
  members,
  unreachable: [],
  ...over,
});

describe("judgeEtcd", () => {
  it("a healthy restore has nothing to say", () => {
    assert.deepEqual(
      judgeEtcd(evidence([member("etcd-0"), member("etcd-1"), member("etcd-2")], { backupRevision: 100 })),
      [],
    );
  });

  it("split brain: three cluster IDs, three leaders, three one-member lists", () => {
    const alone = (at: string, c: string) =>
      member(at, { clusterId: c, leaderId: `id-${at}`, isLeader: true, memberList: [at] });
    const findings = judgeEtcd(evidence([alone("etcd-0", "a1"), alone("etcd-1", "b2"), alone("etcd-2", "c3")]));
    assert.deepEqual(
      findings.map((f) => [f.check, f.fatal]),
      [
        ["cluster-id", true],
        ["members", true],
      ],
    );
    assert.match(
      findings[0]?.line ?? "",
      /^split brain: 3 members report 3 different cluster IDs \(etcd-0: a1, etcd-1: b2, etcd-2: c3\), 3 of them leaders/,
    );
    assert.equal(
      findings[1]?.line,
      "member list does not have the StatefulSet's 3 members: etcd-0 lists 1 (etcd-0); etcd-1 lists 1 (etcd-1); etcd-2 lists 1 (etcd-2)",
    );
  });

  it("split brain as HyperShift's etcd-init makes it: one cluster ID, one member ID, three leaders of one-member clusters", () => {
    // etcdctl snapshot restore with its defaults gives every pod the same member "default".
    const alike = (at: string, revision: number) =>
      member(at, {
        name: "default",
        memberId: "8e9e05c52164694d",
        clusterId: "cdf818194e3a8c32",
        leaderId: "8e9e05c52164694d",
        isLeader: true,
        memberList: ["default"],
        revision,
      });
    const findings = judgeEtcd(evidence([alike("etcd-0", 120), alike("etcd-1", 131), alike("etcd-2", 120)]));
    assert.deepEqual(
      findings.map((f) => [f.check, f.fatal]),
      [
        ["cluster-id", true],
        ["members", true],
      ],
    );
    assert.equal(
      findings[0]?.line,
      "split brain: 3 members (etcd-0, etcd-1, etcd-2) each lead a cluster of their own under the same cluster ID cdf818194e3a8c32 as the same member 8e9e05c52164694d — each restored the snapshot alone with etcdctl's defaults (OCPBUGS-99534); restore again with one --initial-cluster for all members",
    );
    // The same member reached twice through --endpoints, in a healthy cluster: not a split brain.
    const twice = judgeEtcd(evidence([member("etcd-0"), member("etcd-0"), member("etcd-1"), member("etcd-2")]));
    assert.equal(
      twice.some((f) => f.check === "cluster-id"),
      false,
    );
  });

  it("revisions that disagree may settle; below the backup's cannot", () => {
    const f = judgeEtcd(
      evidence([member("etcd-0"), member("etcd-1", { revision: 99 }), member("etcd-2")], { backupRevision: 100 }),
    );
    assert.deepEqual(
      f.map((x) => [x.check, x.fatal]),
      [
        ["revisions", false],
        ["backup-revision", true],
      ],
    );
    assert.match(f[1]?.line ?? "", /^revision below the backup's 100: etcd-1 at 99 — /);
  });

  it("a member that does not answer, and no leader", () => {
    const f = judgeEtcd(
      evidence(
        [member("etcd-0", { leaderId: "0", isLeader: false }), member("etcd-1", { leaderId: "0", isLeader: false })],
        {
          unreachable: [{ at: "etcd-2", endpoint: "https://127.0.0.1:3", error: "connection refused" }],
        },
      ),
    );
    assert.deepEqual(
      f.map((x) => x.line),
      ["etcd-2 did not answer (https://127.0.0.1:3): connection refused", "no leader: etcd has not elected one"],
    );
    assert.ok(f.every((x) => !x.fatal));
  });
});
