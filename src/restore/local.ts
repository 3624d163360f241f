import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CancelledError, OperationError, UsageError } from "../errors.js";
import { createPki } from "../localetcd/certs.js";
import { LocalEtcdCluster } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import { type Logger, silentLogger } from "../logging.js";
import { fsCause } from "../snapshot/errors.js";
import {
  initialClusterOf,
  type MemberTls,
  memberNamed,
  type PlannedMember,
  parseInitialCluster,
  startCommand,
} from "./member-plan.js";
import { findRestoreTool, restoreMember } from "./restore-tool.js";
import { type RestoreSource, unsoundSnapshot, verifySource } from "./source.js";

/**
 * Which cluster the data directories are for: `loopback` makes `members` data directories
 * `<dataDir>/<name>` for a cluster on 127.0.0.1 with its own mutual-TLS certificates
 * (`<dataDir>/pki`); `member` makes `<dataDir>` the data directory of one member of a real cluster.
 */
export type RestoreLayout =
  | { readonly kind: "loopback"; readonly members: number }
  | {
      readonly kind: "member";
      readonly name: string;
      /** etcd's `--initial-cluster` text: every member's name=peerURL. */
      readonly initialCluster: string;
      /** The same on every member of the cluster (default etcd's own, "etcd-cluster"). */
      readonly token?: string;
    };

export interface RestoreLocalOptions {
  readonly source: RestoreSource;
  readonly dataDir: string;
  readonly layout: RestoreLayout;
  /** Removes whatever was made and rejects with a CancelledError. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface RestoredMember {
  readonly name: string;
  readonly dataDir: string;
  readonly peerURLs: readonly string[];
  readonly clientURL?: string;
  /** The etcd command line that starts it. */
  readonly command: readonly string[];
}

export interface RestoreLocalResult {
  readonly dataDir: string;
  readonly origin: string;
  readonly revision: number;
  readonly token: string;
  readonly members: readonly RestoredMember[];
  /** Loopback layout: the CA and the client certificate to reach the members with (valid 7 days). */
  readonly clientTls?: { readonly caCert: string; readonly cert: string; readonly key: string };
  /** What was verified before restoring. */
  readonly checks: readonly string[];
}

/**
 * Verifies the snapshot, then restores it once per member into data directories that appear whole
 * or not at all: everything is made in a temp sibling of `dataDir` and renamed into place at the end;
 * any failure or an abort removes what was made. An existing non-empty `dataDir` is refused.
 */
export async function restoreLocal(options: RestoreLocalOptions): Promise<RestoreLocalResult> {
  const { signal } = options;
  const log = options.logger ?? silentLogger();
  const dataDir = resolve(options.dataDir);
  // Flags are checked before anything is touched.
  const named = options.layout.kind === "member" ? namedMember(options.layout) : undefined;
  await refuseNonEmpty(dataDir);
  const tool = await findRestoreTool();
  const made = await mkdir(dirname(dataDir), { recursive: true }).catch((err: unknown) => {
    throw new OperationError(`cannot create the parent of data directory ${dataDir}: ${fsCause(err)}`);
  });
  let temp: string | undefined;
  try {
    // A sibling: same file system, so the final rename is atomic and the disk that will hold the
    // data also holds the staged copy of a remote snapshot.
    temp = await mkdtemp(join(dirname(dataDir), `.${basename(dataDir)}.hcpeb-restore-`)).catch((err: unknown) => {
      throw new OperationError(`cannot create a temp directory beside ${dataDir}: ${fsCause(err)}`);
    });
    trackDir(temp);
    await chmod(temp, 0o700);
    const verified = await verifySource(options.source, { stageTo: join(temp, "snapshot.db"), signal });
    if (verified.problems.length > 0) throw unsoundSnapshot(verified);
    log.info({ origin: verified.origin, revision: verified.revision, checks: verified.checks }, "snapshot verified");
    checkAborted(signal);
    const plan = named ?? (await loopbackCluster(options.layout as LoopbackLayout, temp, dataDir));
    const initialCluster = initialClusterOf(plan.cluster);
    for (const m of plan.restoring) {
      log.info({ member: m.name, tool: tool.path }, "restoring member");
      const member = {
        name: m.name,
        dataDir: join(temp, plan.workDir(m)),
        initialCluster,
        initialClusterToken: plan.token,
        advertisePeerUrls: m.peerURLs.join(","),
      };
      await restoreMember(tool, verified.file, member, signal);
      checkAborted(signal);
    }
    if (verified.file.startsWith(temp)) await rm(verified.file, { force: true });
    // An empty data directory is replaced by the rename (rename(2) allows that); one that gained
    // content meanwhile makes it fail, and nothing is overwritten.
    await rename(join(temp, plan.moved), dataDir).catch((err: unknown) => {
      throw new OperationError(`cannot move the restored data into ${dataDir}: ${fsCause(err)}`);
    });
    releaseDir(temp);
    temp = undefined;
    log.info({ dataDir, members: plan.restoring.length }, "data directories in place");
    const finalDir = (m: PlannedMember) => join(dataDir, plan.finalDir(m));
    return {
      dataDir,
      origin: verified.origin,
      revision: verified.revision,
      token: plan.token,
      members: plan.restoring.map((m) => ({
        name: m.name,
        dataDir: finalDir(m),
        peerURLs: m.peerURLs,
        ...(m.clientURL ? { clientURL: m.clientURL } : {}),
        command: startCommand(m, plan.cluster, finalDir(m), plan.token, plan.tls),
      })),
      ...(plan.clientTls ? { clientTls: plan.clientTls } : {}),
      checks: verified.checks,
    };
  } catch (err) {
    if (temp) releaseDir(temp);
    if (made) await rm(made, { recursive: true, force: true });
    throw err;
  }
}

type LoopbackLayout = Extract<RestoreLayout, { kind: "loopback" }>;

/** Who is restored where: paths relative to the temp sibling (work) and to the data directory (final). */
interface ClusterPlan {
  readonly cluster: readonly PlannedMember[];
  readonly restoring: readonly PlannedMember[];
  readonly token: string;
  workDir(m: PlannedMember): string;
  /** What is renamed to the data directory ("" for the temp sibling itself). */
  readonly moved: string;
  finalDir(m: PlannedMember): string;
  readonly tls?: MemberTls;
  readonly clientTls?: RestoreLocalResult["clientTls"];
}

/** One member of a real cluster: the temp sibling's `member` becomes the data directory. */
function namedMember(layout: Extract<RestoreLayout, { kind: "member" }>): ClusterPlan {
  const cluster = parseInitialCluster(layout.initialCluster);
  const self = memberNamed(cluster, layout.name);
  return {
    cluster,
    restoring: [self],
    token: layout.token ?? "etcd-cluster",
    workDir: () => "member",
    moved: "member",
    finalDir: () => "",
  };
}

/**
 * A cluster on 127.0.0.1: ports free now, a token of its own (so its cluster ID differs from any other
 * restore of the same snapshot), and mutual-TLS certificates in `pki`, beside the members' directories.
 */
async function loopbackCluster(layout: LoopbackLayout, temp: string, dataDir: string): Promise<ClusterPlan> {
  const cluster = (await LocalEtcdCluster.plan(layout.members)).map((p) => ({
    name: p.name,
    peerURLs: [p.peerURL],
    clientURL: `https://127.0.0.1:${p.clientPort}`,
  }));
  await mkdir(join(temp, "pki"), { mode: 0o700 });
  const pki = await createPki(join(temp, "pki"), "hcpeb-restore-ca");
  await chmod(pki.caKey, 0o600);
  // Only the certificates and keys stay: the requests and openssl's serial file are of no further use.
  for (const f of await readdir(pki.dir)) if (/\.(csr|ext|srl)$/.test(f)) await rm(join(pki.dir, f), { force: true });
  const inFinal = (p: string) => join(dataDir, "pki", basename(p));
  return {
    cluster,
    restoring: cluster,
    token: `hcpeb-restore-${randomBytes(6).toString("hex")}`,
    workDir: (m) => m.name,
    moved: "",
    finalDir: (m) => m.name,
    tls: { caCert: inFinal(pki.caCert), serverCert: inFinal(pki.serverCert), serverKey: inFinal(pki.serverKey) },
    clientTls: { caCert: inFinal(pki.caCert), cert: inFinal(pki.clientCert), key: inFinal(pki.clientKey) },
  };
}

async function refuseNonEmpty(dataDir: string): Promise<void> {
  let entries: string[];
  try {
    const s = await stat(dataDir);
    if (!s.isDirectory()) throw new UsageError(`data directory ${dataDir} exists and is not a directory`);
    entries = await readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    if (err instanceof UsageError) throw err;
    throw new OperationError(`cannot read data directory ${dataDir}: ${fsCause(err)}`);
  }
  if (entries.length > 0) {
    throw new UsageError(
      `data directory ${dataDir} is not empty: restore never writes over existing data; pass a new or empty --data-dir`,
    );
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("the restore was cancelled; nothing was left behind");
}
