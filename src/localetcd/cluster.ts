import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CancelledError, describe, OperationError } from "../errors.js";
import { EtcdClient, type MemberStatus, type TlsMaterial } from "../etcd/client.js";
import { createPki, type SandboxPki } from "./certs.js";
import { freePorts } from "./ports.js";
import { releaseDir, trackChild, trackDir } from "./reaper.js";

/** A member to start on a data directory that already exists (restored with `etcdctl snapshot restore`). */
export interface ExistingMember {
  readonly name: string;
  readonly dataDir: string;
  /** The peer port the data directory was restored with: its membership names https://127.0.0.1:<peerPort>. */
  readonly peerPort: number;
  /** Client port (default: a free one). */
  readonly clientPort?: number;
  /** Where its WAL was restored, when not in the data directory (`--wal-dir`). */
  readonly walDir?: string;
}

/** Data directories restored for a cluster to start on, and how to remove them when their ports are lost. */
export interface RestoredData {
  readonly members: readonly ExistingMember[];
  discard(): Promise<void>;
}

export interface EtcdClusterOptions {
  /** Number of fresh members (default 3); ignored with `existing`. */
  readonly members?: number;
  /**
   * Start these members on their existing data directories instead of fresh ones: how a restore is
   * brought up. The directories belong to the caller and are left in place by `stop()`.
   */
  readonly existing?: readonly ExistingMember[];
  /** Certificates to serve with (default: a new throwaway PKI in the cluster's temp directory). */
  readonly pki?: SandboxPki;
  /** Extra DNS names in a new PKI's server certificate (e.g. the names of a hosted control plane's etcd). */
  readonly serverNames?: readonly string[];
  /** IP addresses in a new PKI's server certificate (default 127.0.0.1, where the peers talk). */
  readonly serverIPs?: readonly string[];
  /**
   * One loopback address per member to serve clients on, all on one port (as pods do, each on its
   * own IP); peers stay on 127.0.0.1. Default: every member on 127.0.0.1, each on its own port.
   */
  readonly clientHosts?: readonly string[];
  /** etcd binary (default `etcd` from PATH). */
  readonly etcdBinary?: string;
  /** How long to wait for a healthy cluster with a leader (default 30 s); past it, a StartTimeoutError. */
  readonly startTimeoutMs?: number;
  /** Stops a start in flight: its members are killed at once and the start rejects with a CancelledError. */
  readonly signal?: AbortSignal;
  /** Backend quota in bytes (etcd's default is 2 GiB; benchmarks raise it). */
  readonly quotaBytes?: number;
  /** Parent of the temp directory (default the OS temp dir). */
  readonly baseDir?: string;
  /**
   * Applied entries between etcd's snapshots (etcd's default 100,000): a WAL file can be purged
   * only once a snapshot covers it, so a smaller count keeps the WAL on disk short.
   */
  readonly snapshotCount?: number;
}

export interface MemberSpec {
  readonly name: string;
  readonly clientHost: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly walDir?: string;
  readonly logFile: string;
}

/** Temp directories of sandbox clusters start with this, so leftovers can be found. */
export const SANDBOX_DIR_PREFIX = "hcpeb-etcd-";

/** Ports for a cluster to be restored and started: restore each member with these peer URLs, then start it. */
export interface MemberPlan {
  readonly name: string;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly peerURL: string;
}

/**
 * A real etcd on loopback with mutual TLS on client and peer ports: the demo's sandbox, the base
 * of the tests' cluster, and where restored data directories are brought up (`existing`). One
 * temp directory per cluster for certificates, logs and fresh data; `stop()` (or the reaper, if the
 * process dies first) removes it, but never a caller's data directories.
 */
export class LocalEtcdCluster {
  readonly dir: string;
  readonly pki: SandboxPki;
  protected readonly specs: MemberSpec[];
  protected readonly procs: Array<ChildProcess | undefined>;
  /** Per member: settles once everything the process wrote is in its log file. */
  private readonly logsWritten: Array<Promise<void> | undefined>;
  private readonly binary: string;
  private readonly quotaBytes: number;
  private readonly snapshotCount: number | undefined;
  private readonly startTimeoutMs: number;
  private readonly startSignal: AbortSignal | undefined;
  private stopped = false;

  protected constructor(dir: string, pki: SandboxPki, specs: MemberSpec[], options: EtcdClusterOptions) {
    this.dir = dir;
    this.pki = pki;
    this.specs = specs;
    this.procs = specs.map(() => undefined);
    this.logsWritten = specs.map(() => undefined);
    this.binary = options.etcdBinary ?? "etcd";
    this.quotaBytes = options.quotaBytes ?? 0;
    this.snapshotCount = options.snapshotCount;
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.startSignal = options.signal;
  }

  /** Names and free ports for `n` members, for restoring data directories that `start({ existing })` then serves. */
  static async plan(n: number): Promise<MemberPlan[]> {
    checkSize(n);
    const ports = await freePorts(2 * n);
    return Array.from({ length: n }, (_, i) => {
      const peerPort = ports[2 * i + 1] as number;
      return {
        name: `member-${i}`,
        clientPort: ports[2 * i] as number,
        peerPort,
        peerURL: `https://127.0.0.1:${peerPort}`,
      };
    });
  }

  static async start(options: EtcdClusterOptions = {}): Promise<LocalEtcdCluster> {
    return LocalEtcdCluster.launch(options, (dir, pki, specs) => new LocalEtcdCluster(dir, pki, specs, options));
  }

  /**
   * Starts etcd on data directories that `restore` makes for ports it chooses just before (with
   * `plan()`). etcd keeps a restored member's peer URL in its data, so a peer port another process
   * takes between the restore and the start cannot be changed at start: that data is discarded and
   * `restore` is called again (it chooses new ports), up to three times in all.
   */
  static async startRestored(
    restore: (attempt: number) => Promise<RestoredData>,
    options: Omit<EtcdClusterOptions, "existing" | "members"> = {},
  ): Promise<LocalEtcdCluster> {
    for (let attempt = 1; ; attempt++) {
      if (options.signal?.aborted) throw startCancelled();
      const data = await restore(attempt);
      try {
        return await LocalEtcdCluster.start({ ...options, existing: data.members });
      } catch (err) {
        if (!(err instanceof PortInUseError)) throw err;
        if (attempt >= PORT_ATTEMPTS) throw err.withAttempts(attempt, "restores with new ports");
        await data.discard();
      }
    }
  }

  /** Starts a cluster built by `make` (a subclass's constructor): temp dir, PKI, ports, health wait. */
  protected static async launch<T extends LocalEtcdCluster>(
    options: EtcdClusterOptions,
    make: (dir: string, pki: SandboxPki, specs: MemberSpec[]) => T,
  ): Promise<T> {
    const existing = options.existing;
    const n = existing?.length ?? options.members ?? 3;
    checkSize(n);
    const hosts = options.clientHosts;
    if (hosts && (hosts.length !== n || existing))
      throw new OperationError(`clientHosts needs one address for each of the ${n} fresh members`);
    const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), SANDBOX_DIR_PREFIX));
    trackDir(dir);
    try {
      let pki = options.pki;
      if (!pki) {
        const pkiDir = join(dir, "pki");
        await mkdir(pkiDir, { mode: 0o700 });
        pki = await createPki(pkiDir, undefined, options.serverNames, options.serverIPs);
      }
      // A port taken between our probe and etcd's bind is retried with fresh ports, unless the caller
      // fixed it (a restored member's peer port is written in its data directory).
      const fixed = new Set(existing?.flatMap((e) => [e.peerPort, ...(e.clientPort ? [e.clientPort] : [])]) ?? []);
      for (let attempt = 1; ; attempt++) {
        const ports = await freePorts(2 * n);
        const specs = Array.from({ length: n }, (_, i): MemberSpec => {
          const e = existing?.[i];
          return {
            name: e?.name ?? `member-${i}`,
            clientHost: hosts?.[i] ?? "127.0.0.1",
            // On distinct addresses the members share one port (probed free on 127.0.0.1: a port bound
            // on another loopback address shows as a bind failure, retried with new ports).
            clientPort: e?.clientPort ?? (ports[hosts ? 0 : 2 * i] as number),
            peerPort: e?.peerPort ?? (ports[2 * i + 1] as number),
            dataDir: e?.dataDir ?? join(dir, `member-${i}.${attempt}`),
            ...(e?.walDir ? { walDir: e.walDir } : {}),
            logFile: join(dir, `member-${i}.${attempt}.log`),
          };
        });
        const cluster = make(dir, pki, specs);
        try {
          await cluster.launchAll();
          return cluster;
        } catch (err) {
          await cluster.killAndWait();
          if (err instanceof PortInUseError && !fixed.has(err.port) && attempt < PORT_ATTEMPTS) continue;
          throw err instanceof PortInUseError ? err.withAttempts(attempt) : err;
        }
      }
    } catch (err) {
      releaseDir(dir);
      throw err;
    }
  }

  get size(): number {
    return this.specs.length;
  }

  /** Client URLs of all members, in member order. */
  get endpoints(): string[] {
    return this.specs.map((s) => `https://${s.clientHost}:${s.clientPort}`);
  }

  endpoint(i: number): string {
    const s = this.spec(i);
    return `https://${s.clientHost}:${s.clientPort}`;
  }

  memberName(i: number): string {
    return this.spec(i).name;
  }

  /** The client TLS files, as the CLI flags --cacert/--cert/--key take them. */
  get tlsFiles(): { cacert: string; cert: string; key: string } {
    return { cacert: this.pki.caCert, cert: this.pki.clientCert, key: this.pki.clientKey };
  }

  /** The same files as etcdctl and hcp-etcd-backup flags: --cacert F --cert F --key F. */
  get tlsFlags(): string[] {
    const t = this.tlsFiles;
    return ["--cacert", t.cacert, "--cert", t.cert, "--key", t.key];
  }

  async tlsMaterial(): Promise<TlsMaterial> {
    const [ca, cert, key] = await Promise.all([
      readFile(this.pki.caCert),
      readFile(this.pki.clientCert),
      readFile(this.pki.clientKey),
    ]);
    // The sandbox certificate names "localhost"; checking that name avoids an IP as TLS SNI.
    return { ca, cert, key, serverName: "localhost" };
  }

  /** A connected client for member `i` (default 0); the caller closes it. */
  async client(i = 0): Promise<EtcdClient> {
    return EtcdClient.connect({ endpoint: this.endpoint(i), tls: await this.tlsMaterial() });
  }

  isRunning(i: number): boolean {
    const p = this.procs[i];
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Status of every running member. */
  async statuses(): Promise<MemberStatus[]> {
    const out: MemberStatus[] = [];
    for (let i = 0; i < this.size; i++) {
      if (!this.isRunning(i)) continue;
      const c = await this.client(i);
      try {
        out.push(await c.status());
      } finally {
        c.close();
      }
    }
    return out;
  }

  /** Kills every member and removes the temp directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exits = this.procs.map((p) =>
      p && p.exitCode === null && p.signalCode === null ? onceExit(p) : Promise.resolve(),
    );
    this.killAll();
    await Promise.all(exits);
    releaseDir(this.dir);
  }

  protected spec(i: number): MemberSpec {
    const s = this.specs[i];
    if (!s) throw new OperationError(`no etcd member ${i} (cluster has ${this.specs.length})`);
    return s;
  }

  private async killAndWait(): Promise<void> {
    // A process that never spawned (no binary) has nothing to wait for.
    const exits = this.procs.map((p) => (p?.pid !== undefined ? onceExit(p) : Promise.resolve()));
    this.killAll();
    await Promise.all(exits);
  }

  protected killAll(): void {
    for (const p of this.procs) if (p && p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }

  protected async signal(i: number, sig: NodeJS.Signals): Promise<void> {
    const p = this.procs[i];
    if (!p || !this.isRunning(i)) return;
    const exited = onceExit(p);
    p.kill(sig);
    await exited;
  }

  private async launchAll(): Promise<void> {
    for (let i = 0; i < this.specs.length; i++) this.launchMember(i);
    await this.waitHealthy(this.specs.map((_, i) => i));
  }

  protected launchMember(i: number): void {
    const s = this.spec(i);
    const peers = this.specs.map((m) => `${m.name}=https://127.0.0.1:${m.peerPort}`).join(",");
    const args = [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=https://${s.clientHost}:${s.clientPort}`,
      `--advertise-client-urls=https://${s.clientHost}:${s.clientPort}`,
      `--listen-peer-urls=https://127.0.0.1:${s.peerPort}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${s.peerPort}`,
      `--initial-cluster=${peers}`,
      // For a member with data (restored or restarted) etcd ignores the initial-cluster flags.
      "--initial-cluster-state=new",
      `--initial-cluster-token=${this.dir}`,
      "--client-cert-auth",
      `--trusted-ca-file=${this.pki.caCert}`,
      `--cert-file=${this.pki.serverCert}`,
      `--key-file=${this.pki.serverKey}`,
      "--peer-client-cert-auth",
      `--peer-trusted-ca-file=${this.pki.caCert}`,
      `--peer-cert-file=${this.pki.serverCert}`,
      `--peer-key-file=${this.pki.serverKey}`,
      "--logger=zap",
      "--log-outputs=stderr",
      `--quota-backend-bytes=${this.quotaBytes}`,
      ...(s.walDir ? [`--wal-dir=${s.walDir}`] : []),
      ...(this.snapshotCount ? [`--snapshot-count=${this.snapshotCount}`] : []),
    ];
    const log = createWriteStream(s.logFile, { flags: "a" });
    // A process group of its own: a terminal's Ctrl-C goes to the foreground group, and the members
    // must outlive the run's own cleanup (a hosted cluster's resume writes to them); the reaper stops them last.
    const child = spawn(this.binary, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    // Two sources into one file: the log ends when both have (on 'close'), not when the first does,
    // or etcd's last words (why it exited) would be cut off.
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.logsWritten[i] = new Promise((resolve) => {
      log.once("close", resolve);
      log.once("error", () => resolve());
    });
    child.once("close", () => log.end());
    child.on("error", () => {
      log.end();
      // Reported by waitHealthy through exitInfo; keeps Node from throwing an unhandled 'error'.
    });
    trackChild(child);
    this.procs[i] = child;
  }

  protected async waitHealthy(indexes: number[]): Promise<void> {
    const signal = this.startSignal;
    const onAbort = () => this.killAll();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await this.pollHealthy(indexes, signal);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private async pollHealthy(indexes: number[], signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    const tls = await this.tlsMaterial();
    let lastError = "no answer yet";
    for (;;) {
      // Killed by the abort: that, not the exit it caused, is why the start ends.
      if (signal?.aborted) {
        this.killAll();
        throw startCancelled();
      }
      for (const i of indexes) {
        const failure = await this.exitInfo(i);
        if (failure) throw failure;
      }
      try {
        let leaders = 0;
        for (const i of indexes) {
          const c = await EtcdClient.connect({ endpoint: this.endpoint(i), tls, callTimeoutMs: 1000 });
          try {
            const st = await c.status();
            if (st.leaderId !== "0") leaders++;
          } finally {
            c.close();
          }
        }
        if (leaders === indexes.length) return;
        lastError = "no leader elected yet";
      } catch (err) {
        lastError = describe(err);
      }
      if (Date.now() > deadline) {
        this.killAll();
        throw new StartTimeoutError(this.startTimeoutMs / 1000, lastError, this.dir);
      }
      await new Promise((r) => setTimeout(r, 50)); // poll interval while waiting for raft
    }
  }

  /** Why member `i` is not running, if it exited; undefined while it runs. */
  private async exitInfo(i: number): Promise<Error | undefined> {
    const p = this.procs[i];
    if (!p) return undefined;
    const spawnError = (p as ChildProcess & { spawnfile?: string }).pid === undefined;
    if (spawnError) {
      return new OperationError(
        `cannot start etcd: "${this.binary}" not found; install it with: apt-get install etcd-server etcd-client`,
      );
    }
    if (p.exitCode === null && p.signalCode === null) return undefined;
    await this.logsWritten[i];
    const s = this.spec(i);
    const log = await readFile(s.logFile, "utf8").catch(() => "");
    const taken = /listen tcp [^ ]*:(\d+): bind: address already in use/.exec(log);
    if (taken) {
      const port = Number(taken[1]);
      return port === s.peerPort
        ? new PortInUseError(s.name, port, "peer")
        : new PortInUseError(s.name, port, "client", undefined, s.clientHost);
    }
    const fatal = lastFatalLine(log);
    return new OperationError(`etcd ${s.name} exited (${p.exitCode ?? p.signalCode}) while starting: ${fatal}`);
  }
}

/** etcd neither served nor exited within the start timeout: the machine's state, not the data's (say, load). */
export class StartTimeoutError extends OperationError {
  constructor(
    readonly seconds: number,
    /** What the last health check saw. */
    readonly lastError: string,
    logDir: string,
  ) {
    super(`etcd did not become healthy within ${seconds}s (${lastError}); logs in ${logDir}`);
  }
}

const startCancelled = () => new CancelledError("the etcd start was cancelled");

/** How many sets of ports a start tries before it gives up (each after another process took one). */
const PORT_ATTEMPTS = 3;

/**
 * etcd could not bind a port we had found free: another process took it in between. Its message
 * names the member, the port and what to do; `retried` says how many sets of ports were tried.
 */
export class PortInUseError extends OperationError {
  constructor(
    readonly member: string,
    readonly port: number,
    readonly role: "peer" | "client",
    readonly retried?: string,
    readonly host = "127.0.0.1",
  ) {
    super(
      `etcd ${member} cannot listen on ${host}:${port} (its ${role} port): another process took it after it was found free` +
        `${retried ? ` (${retried})` : ""}; see which with: ss -ltnp 'sport = :${port}', then run again (new ports are chosen each run)`,
    );
  }

  withAttempts(attempts: number, what = "sets of free ports"): PortInUseError {
    return attempts > 1
      ? new PortInUseError(this.member, this.port, this.role, `${attempts} ${what} tried`, this.host)
      : this;
  }
}

function checkSize(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 9)
    throw new OperationError(`cannot start an etcd cluster of ${n} members: use 1 to 9`);
}

function onceExit(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once("exit", () => resolve()));
}

function lastFatalLine(log: string): string {
  const lines = log.trim().split("\n").filter(Boolean);
  const fatal =
    [...lines].reverse().find((l) => /"level":"(fatal|error|panic)"/.test(l)) ?? lines.at(-1) ?? "no output";
  try {
    const parsed = JSON.parse(fatal) as { msg?: string; error?: string };
    return [parsed.msg, parsed.error].filter(Boolean).join(": ");
  } catch {
    return fatal.slice(0, 300);
  }
}
