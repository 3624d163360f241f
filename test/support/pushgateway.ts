import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../../src/localetcd/ports.js";
import { releaseDir, trackChild, trackDir } from "../../src/localetcd/reaper.js";
import { reapOnSignals } from "./signals.js";
import { waitFor } from "./wait.js";

reapOnSignals();

/**
 * A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port. Its
 * persistence file lives in an `hcpeb-` temp dir, which is also how the leftover check knows it as ours.
 */
export class PushgatewayServer {
  private constructor(
    readonly url: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(): Promise<PushgatewayServer> {
    const dir = await mkdtemp(join(tmpdir(), "hcpeb-pushgateway-"));
    trackDir(dir);
    const [port] = (await freePorts(1)) as [number];
    const log = openSync(join(dir, "pushgateway.log"), "a");
    const child = spawn(
      "prometheus-pushgateway",
      [`--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${join(dir, "pushgateway.data")}`],
      { stdio: ["ignore", log, log] },
    );
    trackChild(child);
    const server = new PushgatewayServer(`http://127.0.0.1:${port}`, dir, child);
    try {
      await waitFor(
        "the Pushgateway to be ready",
        async () => {
          if (child.exitCode !== null) throw new Error(`pushgateway exited: ${await server.log()}`);
          return (await fetch(`${server.url}/-/ready`).catch(() => undefined))?.ok ? true : undefined;
        },
        15_000,
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** The exposition Prometheus would scrape. */
  async scrape(): Promise<string> {
    const res = await fetch(`${this.url}/metrics`);
    if (!res.ok) throw new Error(`scrape failed: ${res.status}`);
    return res.text();
  }

  log(): Promise<string> {
    return readFile(join(this.dir, "pushgateway.log"), "utf8").catch(() => "");
  }

  get pid(): number | undefined {
    return this.child.exitCode === null ? this.child.pid : undefined;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGKILL");
      await exited;
    }
    releaseDir(this.dir);
  }
}

/** The value of one sample line `name{...labels...} value` whose labels include all of `labels`. */
export function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(" ").at(-1));
  }
  return undefined;
}
