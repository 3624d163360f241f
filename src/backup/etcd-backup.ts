import { describe, EtcdError, OperationError } from "../errors.js";
import { EtcdClient, type Member, type MemberStatus, type TlsMaterial } from "../etcd/client.js";
import type { Endpoint } from "../etcd/endpoint.js";
import { toolVersion } from "../package-info.js";
import { backupFolder, backupId, validateLabel } from "../store/layout.js";
import { MANIFEST_FILE, type Manifest, SNAPSHOT_FILE, serializeManifest } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { SnapshotVerifier } from "./verified-stream.js";

export interface EtcdBackupRequest {
  readonly endpoints: readonly Endpoint[];
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
  /** Member name to snapshot; default the leader. */
  readonly member?: string;
  readonly store: Store;
  readonly label: string;
  readonly onProgress?: (bytes: number, total: number) => void;
  /** Called when a member fails and the backup moves to another one. */
  readonly onFallback?: (failed: string, reason: string, next: string) => void;
}

export interface BackupResult {
  readonly ref: string;
  readonly manifest: Manifest;
}

interface Candidate {
  readonly endpoint: Endpoint;
  readonly status: MemberStatus;
  readonly name: string;
}

/** Status of every endpoint that answers, with member names from the member list. */
async function survey(req: EtcdBackupRequest): Promise<{ candidates: Candidate[]; errors: string[] }> {
  const candidates: Candidate[] = [];
  const errors: string[] = [];
  let members: Member[] | undefined;
  for (const endpoint of req.endpoints) {
    let client: EtcdClient | undefined;
    try {
      client = await EtcdClient.connect({
        endpoint,
        tls: req.tls,
        auth: req.auth,
        callTimeoutMs: 5000,
      });
      const status = await client.status();
      members ??= await client.memberList();
      candidates.push({
        endpoint,
        status,
        name: members.find((m) => m.id === status.memberId)?.name ?? status.memberId,
      });
    } catch (err) {
      errors.push(describe(err));
    } finally {
      client?.close();
    }
  }
  return { candidates, errors };
}

/** Order in which to try members: the requested one (or the leader), then the other healthy ones. */
function order(candidates: Candidate[], wanted: string | undefined): Candidate[] {
  const healthy = candidates.filter((c) => !c.status.isLearner && c.status.errors.length === 0);
  if (wanted !== undefined) {
    const chosen = candidates.find((c) => c.name === wanted || c.status.memberId === wanted);
    if (!chosen) {
      throw new EtcdError(
        `no reachable member named "${wanted}"; reachable: ${candidates.map((c) => c.name).join(", ") || "none"}`,
      );
    }
    if (chosen.status.isLearner)
      throw new EtcdError(`member "${wanted}" is a learner: its data may lag; choose a voting member`);
    return [chosen];
  }
  return [...healthy].sort((a, b) => Number(b.status.isLeader) - Number(a.status.isLeader));
}

/**
 * Backs up a plain etcd cluster (mode online: etcd snapshots are point-in-time consistent):
 * streams Maintenance.Snapshot from one member straight into the store, proving the bytes on the
 * way (SHA-256 trailer, byte count, status), then writes the manifest — last, as the commit. A
 * member that fails mid-stream is replaced by the next healthy one, unless one was asked for.
 */
export async function backupEtcd(req: EtcdBackupRequest): Promise<BackupResult> {
  const label = validateLabel(req.label);
  const startedAt = new Date();
  await req.store.check();
  const { candidates, errors } = await survey(req);
  if (candidates.length === 0) {
    throw new EtcdError(`no etcd endpoint answered: ${errors[0] ?? "no endpoints"}`);
  }
  const queue = order(candidates, req.member);
  if (queue.length === 0) throw new OperationError("no healthy voting member to snapshot");
  let lastError: unknown;
  for (const [i, member] of queue.entries()) {
    try {
      return await snapshotMember(req, label, member, candidates, startedAt);
    } catch (err) {
      lastError = err;
      // Only etcd's failures move the backup to another member; a failed check or a store error would fail there too.
      if (!(err instanceof EtcdError)) throw err;
      const next = queue[i + 1];
      if (!next) break;
      req.onFallback?.(member.name, describe(err), next.name);
    }
  }
  const hint = req.member === undefined ? "" : "; pick another member with --member NAME";
  throw new EtcdError(`${describe(lastError)}${hint}`, { cause: lastError });
}

async function snapshotMember(
  req: EtcdBackupRequest,
  label: string,
  member: Candidate,
  all: Candidate[],
  startedAt: Date,
): Promise<BackupResult> {
  const client = await EtcdClient.connect({
    endpoint: member.endpoint,
    tls: req.tls,
    auth: req.auth,
  });
  try {
    const status = await client.status();
    const { id, folder } = await freeFolder(req.store, label, status.revision);
    const verifier = new SnapshotVerifier({ onProgress: req.onProgress });
    const t0 = Date.now();
    await req.store.put(
      `${folder}/${SNAPSHOT_FILE}`,
      verifier.pipe(client.snapshot(), `${member.name} (${member.endpoint.url})`),
      {
        sizeHint: status.dbSize + 32,
        contentType: "application/octet-stream",
      },
    );
    const snapshotSeconds = (Date.now() - t0) / 1000;
    const v = verifier.result;
    const finishedAt = new Date();
    const manifest: Manifest = {
      schemaVersion: 1,
      tool: { name: "hcp-etcd-backup", version: toolVersion() },
      backupId: id,
      label,
      createdAt: finishedAt.toISOString(),
      mode: "online",
      source: {
        kind: "etcd",
        endpoints: all.map((c) => c.endpoint.url),
        clusterId: status.clusterId,
        etcdVersion: status.version,
        member: { name: member.name, id: status.memberId, endpoint: member.endpoint.url, isLeader: status.isLeader },
      },
      snapshot: {
        object: SNAPSHOT_FILE,
        objectSize: v.objectSize,
        dbSize: v.dbSize,
        sha256: v.sha256,
        statusHash: v.status.hash,
        revision: Number(v.status.revision),
        totalKeys: v.status.totalKey,
        totalSize: v.status.totalSize,
        pageSize: v.pageSize,
      },
      timings: {
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        snapshotSeconds,
        totalSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      },
      verifications: [
        {
          at: finishedAt.toISOString(),
          toolVersion: toolVersion(),
          checks: ["sha256-trailer", "byte-count", "status"],
          ok: true,
          detail: "checked while streaming from etcd, before the upload was completed",
        },
      ],
    };
    await req.store.put(`${folder}/${MANIFEST_FILE}`, serializeManifest(manifest), { contentType: "application/json" });
    return { ref: req.store.urlOf(folder), manifest };
  } finally {
    client.close();
  }
}

/** The id for now; ids have one-second resolution, so a second backup within the same second takes the next second. */
async function freeFolder(store: Store, label: string, revision: number): Promise<{ id: string; folder: string }> {
  for (let at = Date.now(); ; at += 1000) {
    const id = backupId(new Date(at), revision);
    const folder = backupFolder(label, id);
    if (!(await store.exists(`${folder}/${MANIFEST_FILE}`)) && !(await store.exists(`${folder}/${SNAPSHOT_FILE}`))) {
      return { id, folder };
    }
  }
}
