// GNU `time -v` around a command, with the command's own peak RSS sampled apart (time's figure is the
// largest process of the tree: the etcd a drill or a manual restore starts).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export { median } from "./measure.js";

export interface TimeV {
  readonly seconds: number;
  /** GNU time's "Maximum resident set size": the largest process of the tree (etcd here). */
  readonly treeRssMiB: number;
  /** Peak RSS of the command's own process (VmHWM), sampled while it runs. */
  readonly ownRssMiB: number;
  readonly stdout: string;
}

/** Runs `cmd` under `/usr/bin/time -v`; samples the VmHWM of time's child (the command itself). */
export function timeV(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<TimeV> {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/bin/time", ["-v", cmd, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    let own = 0;
    const sample = setInterval(() => {
      try {
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
        const status = readFileSync(`/proc/${kids[0]}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) own = Math.max(own, Number(hwm[1]) / 1024);
      } catch {
        // between start and exit there is no child to read
      }
    }, 50);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(sample);
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${stderr.slice(-600)}`));
      const wall = /Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)/.exec(stderr);
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (!wall || !rss) return reject(new Error(`no figures from time -v: ${stderr.slice(-600)}`));
      const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
      resolve({ seconds, treeRssMiB: Number(rss[1]) / 1024, ownRssMiB: own, stdout });
    });
  });
}
