import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Sample {
  readonly seconds: number;
  readonly maxRssMiB: number;
}

/** Runs a command under GNU time: wall seconds and peak RSS. Output goes to /dev/null-equivalent capture. */
export async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Sample> {
  const { stderr } = await run("/usr/bin/time", ["-f", "HCPEB_TIME %e %M", cmd, ...args], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const m = /HCPEB_TIME ([\d.]+) (\d+)/.exec(stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time for ${cmd}: ${stderr.slice(-300)}`);
  return { seconds: Number(m[1]), maxRssMiB: Number(m[2]) / 1024 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
