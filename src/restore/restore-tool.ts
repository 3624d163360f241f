import { execFile, spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { CancelledError, OperationError, VerificationError } from "../errors.js";
import { trackChild } from "../localetcd/reaper.js";

const run = promisify(execFile);

/** The etcd tool that restores a snapshot into a data directory: etcdutl (3.5+) or etcdctl 3.4. */
export interface RestoreTool {
  readonly path: string;
  readonly kind: "etcdutl" | "etcdctl";
}

/** What one `snapshot restore` needs to give a member its identity in the new cluster. */
export interface MemberRestore {
  readonly name: string;
  readonly dataDir: string;
  /** `name=url,...` for every member of the new cluster. */
  readonly initialCluster: string;
  readonly initialClusterToken: string;
  /** This member's peer URLs, comma-separated (its entries of the initial cluster). */
  readonly advertisePeerUrls: string;
  /**
   * The caller proves the snapshot's SHA-256 trailer itself before any verdict (the drill, the
   * replay's base): the tool does not hash the whole file a second time.
   */
  readonly skipHashCheck?: boolean;
  /** Where the member's WAL goes, when not in its data directory (its etcd starts with the same `--wal-dir`). */
  readonly walDir?: string;
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * etcdutl when installed (etcd 3.6 removed `snapshot restore` from etcdctl), else etcdctl up to 3.5
 * (Debian's etcd-client 3.4 has no etcdutl).
 */
export async function findRestoreTool(): Promise<RestoreTool> {
  const etcdutl = await onPath("etcdutl");
  if (etcdutl) return { path: etcdutl, kind: "etcdutl" };
  const etcdctl = await onPath("etcdctl");
  if (!etcdctl) {
    throw new OperationError(
      "neither etcdutl nor etcdctl is installed: install etcd's tools (Debian: apt-get install etcd-client)",
    );
  }
  const { stdout } = await run(etcdctl, ["version"], { env: { ...process.env, ETCDCTL_API: "3" } }).catch(() => ({
    stdout: "",
  }));
  const m = /etcdctl version:\s*(\d+)\.(\d+)/.exec(stdout);
  if (m && (Number(m[1]) > 3 || Number(m[2]) >= 6)) {
    throw new OperationError(
      `etcdctl ${m[1]}.${m[2]} (${etcdctl}) has no "snapshot restore" (moved to etcdutl in 3.6): install etcdutl`,
    );
  }
  return { path: etcdctl, kind: "etcdctl" };
}

/** The etcd server binary that brings a restore up. */
export async function findEtcd(): Promise<string> {
  const etcd = await onPath("etcd");
  if (!etcd) throw new OperationError("etcd is not installed: install it (Debian: apt-get install etcd-server)");
  return etcd;
}

/** The restore command line for one member (also what the user would type). */
export function restoreArgs(snapshot: string, m: MemberRestore): string[] {
  return [
    "snapshot",
    "restore",
    snapshot,
    "--name",
    m.name,
    "--initial-cluster",
    m.initialCluster,
    "--initial-cluster-token",
    m.initialClusterToken,
    "--initial-advertise-peer-urls",
    m.advertisePeerUrls,
    "--data-dir",
    m.dataDir,
    ...(m.skipHashCheck ? ["--skip-hash-check"] : []),
    ...(m.walDir ? ["--wal-dir", m.walDir] : []),
  ];
}

/**
 * Restores `snapshot` (already verified) into `m.dataDir`, which must not exist. The tool checks
 * the SHA-256 trailer again unless `m.skipHashCheck`; a refusal is reported as a verification failure, with the tool's words.
 */
export async function restoreMember(
  tool: RestoreTool,
  snapshot: string,
  m: MemberRestore,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) throw new CancelledError(`restore of member ${m.name} was cancelled`);
  const child = spawn(tool.path, restoreArgs(snapshot, m), {
    env: { ...process.env, ETCDCTL_API: "3" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  // Killed with this process whatever way it ends (the reaper), like every etcd the tool starts.
  trackChild(child);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    // The tool logs a few lines; only the last ones matter for a diagnosis.
    stderr = (stderr + d).slice(-8192);
  });
  const onAbort = () => child.kill("SIGKILL");
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const { code, spawnError } = await new Promise<{ code: number | null; spawnError?: Error }>((resolve) => {
      child.once("error", (err) => resolve({ code: null, spawnError: err }));
      child.once("close", (c) => resolve({ code: c }));
    });
    if (signal?.aborted) throw new CancelledError(`restore of member ${m.name} was cancelled`);
    if (spawnError) throw new OperationError(`cannot run ${tool.path}: ${spawnError.message}`, { cause: spawnError });
    if (code !== 0) {
      const why = toolError(stderr);
      const message = `${tool.kind} snapshot restore of member ${m.name} failed: ${why}`;
      if (/no space|quota|permission denied|read-only/i.test(why)) throw new OperationError(message);
      throw new VerificationError(message);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The tool's own error line ("Error: ..."), or its last log message. */
function toolError(stderr: string): string {
  const lines = stderr.trim().split("\n").filter(Boolean);
  const error = [...lines].reverse().find((l) => /^Error:/.test(l));
  if (error) return error.replace(/^Error:\s*/, "");
  const last = lines.at(-1) ?? "no output";
  try {
    const parsed = JSON.parse(last) as { msg?: string; error?: string };
    return [parsed.msg, parsed.error].filter(Boolean).join(": ") || last;
  } catch {
    return last.slice(0, 300);
  }
}
