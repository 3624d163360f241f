import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";

/** Daemons the harness starts; any of them still running with one of our temp dirs in its command line leaked. */
const DAEMONS = new Set(["etcd", "ceph-mon", "ceph-osd", "radosgw", "prometheus-pushgateway"]);
export const TEMP_PREFIXES = ["hcpeb-"];

export interface Leftover {
  readonly pid: number;
  readonly command: string;
}

export function leftoverProcesses(): Leftover[] {
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
    if (DAEMONS.has(exe) && argv.some((a) => TEMP_PREFIXES.some((p) => a.includes(p)))) {
      out.push({ pid: Number(entry), command: argv.join(" ").slice(0, 200) });
    }
  }
  return out;
}

export function leftoverTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => TEMP_PREFIXES.some((p) => name.startsWith(p)));
}
