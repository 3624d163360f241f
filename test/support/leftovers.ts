import { type Dirent, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";

/** Daemons the harness starts; any of them still running with one of our temp dirs in its command line leaked. */
const DAEMONS = new Set(["etcd", "ceph-mon", "ceph-osd", "radosgw", "prometheus-pushgateway"]);
export const TEMP_PREFIXES = ["hcpeb-"];

export interface Leftover {
  readonly pid: number;
  readonly command: string;
}

/**
 * Harness daemons still running whose command line names a temp directory of the tests, or only
 * those under `within` (a test file's own temp directory, see file-tmpdir.ts).
 */
export function leftoverProcesses(within?: string): Leftover[] {
  const out: Leftover[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    let stat: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    // Zombies are already dead; their parent reaps them a moment later.
    if (/\) Z /.test(stat)) continue;
    const argv = cmdline.split("\0").filter(Boolean);
    const exe = (argv[0] ?? "").split("/").at(-1) ?? "";
    const ours = within
      ? argv.some((a) => a.includes(within))
      : argv.some((a) => TEMP_PREFIXES.some((p) => a.includes(p)));
    if (DAEMONS.has(exe) && ours) {
      out.push({ pid: Number(entry), command: argv.join(" ").slice(0, 200) });
    }
  }
  return out;
}

/** The tests' temp directories directly under `root` (by default this file's own temp directory). */
export function leftoverTempDirs(root: string = tmpdir()): string[] {
  return readdirSync(root).filter((name) => TEMP_PREFIXES.some((p) => name.startsWith(p)));
}

/**
 * The other test files node's runner is still running (its children besides this process). The
 * last file waits for them before it judges what they left: `make test` runs two files at once.
 */
export function siblingTestFiles(): number[] {
  const siblings: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name in parentheses: state, ppid, ...
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state !== "Z" && Number(ppid) === process.ppid) siblings.push(Number(entry));
  }
  return siblings;
}

/** Up to `limit` paths under `dir` (relative, directories first level by level), to name what leaked. */
export function listTree(dir: string, limit: number): string[] {
  const out: string[] = [];
  const queue = [""];
  while (queue.length > 0 && out.length < limit) {
    const rel = queue.shift() as string;
    let entries: Dirent[];
    try {
      entries = readdirSync(`${dir}/${rel}`, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (out.length >= limit) break;
      const path = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory() ? `${path}/` : path);
      if (e.isDirectory()) queue.push(path);
    }
  }
  return out;
}
