import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The built CLI, as a user runs it (`make build` first; `make test` does). */
export const CLI = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], options);
}

/** Any program to completion, its output collected (the environment is the test's, plus `env`). */
export function runProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The built CLI as a child process that a test can watch and signal while it runs. */
export interface RunningCli {
  readonly child: ChildProcess;
  /** Resolves with the exit once stdout and stderr are closed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Resolves when a stderr line from now on matches; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<string>;
}

export function spawnCli(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    /** Run the built CLI as an installed one is run: through its shebang, with the V8 flags it sets (benchmarks). */
    asInstalled?: boolean;
  } = {},
): RunningCli {
  const [command, argv] = options.asInstalled ? [CLI, args] : [process.execPath, [CLI, ...args]];
  const child = spawn(command, argv, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    stderr += `${line}\n`;
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForLine: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        exited.then(() => reject(new Error(`the command exited before a line matched ${pattern}: ${stderr}`)));
      }),
  };
}
