import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { Agent as HttpsAgent, get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { createPki, type SandboxPki } from "../../src/localetcd/certs.js";
import { freePorts } from "../../src/localetcd/ports.js";
import { releaseDir, trackChild, trackDir } from "../../src/localetcd/reaper.js";
import { createS3Client } from "../../src/store/s3-client.js";
import { reapOnSignals } from "./signals.js";

reapOnSignals();

const run = promisify(execFile);
const BOOTSTRAP = fileURLToPath(new URL("./ceph/bootstrap.py", import.meta.url));
// Debian's python has the rados module; a pyenv python3 earlier on PATH does not.
const PYTHON = "/usr/bin/python3";

export const S3_DIR_PREFIX = "hcpeb-s3-";

export interface S3ServerOptions {
  /** memstore keeps objects in RAM (fast start); bluestore writes to a sparse file (flat RAM, for big benchmarks). */
  readonly objectStore?: "memstore" | "bluestore";
  /** Capacity reported by the OSD (default 8 GiB). */
  readonly capacityBytes?: number;
  readonly bucket?: string;
  readonly baseDir?: string;
  /** Serve HTTPS with a certificate from a fresh sandbox CA (`caBundle`), like AWS and ODF do. */
  readonly tls?: boolean;
}

/**
 * A real S3 server on loopback: a single-node Ceph cluster (mon + one OSD) with the RADOS Gateway,
 * from Debian's packages. It verifies SigV4 for real, like AWS and like OpenShift Data Foundation.
 * Everything lives in one temp directory; `stop()` kills exactly the daemons it started.
 */
export class S3Server {
  readonly endpoint: string;
  readonly region = "us-east-1";
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;
  readonly dir: string;
  /** PEM file of the CA that signed the server's certificate (HTTPS only). */
  readonly caBundle: string | undefined;
  private readonly procs: ChildProcess[];
  private stopped = false;

  private constructor(init: {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
    bucket: string;
    dir: string;
    caBundle: string | undefined;
    procs: ChildProcess[];
  }) {
    this.endpoint = init.endpoint;
    this.accessKeyId = init.accessKeyId;
    this.secretAccessKey = init.secretAccessKey;
    this.bucket = init.bucket;
    this.dir = init.dir;
    this.caBundle = init.caBundle;
    this.procs = init.procs;
  }

  static async start(options: S3ServerOptions = {}): Promise<S3Server> {
    const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), S3_DIR_PREFIX));
    trackDir(dir);
    const procs: ChildProcess[] = [];
    try {
      const [monPort, rgwPort] = (await freePorts(2)) as [number, number];
      for (const sub of ["run", "log", "crash", "mon", "osd", "tls"]) await mkdir(join(dir, sub));
      const pki = options.tls ? await createPki(join(dir, "tls"), "hcpeb-s3-ca") : undefined;
      const conf = join(dir, "ceph.conf");
      const fsid = randomUUID();
      await writeFile(conf, cephConf({ dir, fsid, monPort, rgwPort, pki, ...options }));
      const c = ["-c", conf];

      await exec("monmaptool", [
        "--create",
        "--addv",
        "a",
        `[v2:127.0.0.1:${monPort}]`,
        "--fsid",
        fsid,
        join(dir, "monmap"),
      ]);
      await exec("ceph-mon", [...c, "--mkfs", "-i", "a", "--monmap", join(dir, "monmap")]);
      procs.push(daemon("ceph-mon", [...c, "-f", "-i", "a"], dir));

      const osdUuid = randomUUID();
      await exec(PYTHON, [BOOTSTRAP, conf, "prepare", osdUuid]);
      await exec("ceph-osd", [...c, "-i", "0", "--mkfs", "--osd-uuid", osdUuid]);
      procs.push(daemon("ceph-osd", [...c, "-f", "-i", "0"], dir));
      // radosgw started before osd.0 is up waits a flat 5 s on its first operations.
      await exec(PYTHON, [BOOTSTRAP, conf, "wait-osd"]);

      procs.push(daemon("radosgw", [...c, "-f", "-n", "client.rgw"], dir));
      const endpoint = `${pki ? "https" : "http"}://127.0.0.1:${rgwPort}`;
      await waitForHttp(endpoint, pki?.caCert, procs, dir);

      const accessKeyId = `AK${randomBytes(9).toString("hex").toUpperCase()}`;
      const secretAccessKey = randomBytes(20).toString("base64url");
      await exec("radosgw-admin", [
        ...c,
        "user",
        "create",
        "--uid",
        "tester",
        "--display-name",
        "tester",
        "--access-key",
        accessKeyId,
        "--secret-key",
        secretAccessKey,
      ]);

      const server = new S3Server({
        endpoint,
        accessKeyId,
        secretAccessKey,
        bucket: options.bucket ?? "backups",
        dir,
        caBundle: pki?.caCert,
        procs,
      });
      const client = server.client();
      try {
        await client.send(new CreateBucketCommand({ Bucket: server.bucket }));
      } finally {
        client.destroy();
      }
      return server;
    } catch (err) {
      await killAll(procs);
      releaseDir(dir);
      throw err;
    }
  }

  /** An SDK client with the product's settings and this server's credentials. */
  client(overrides: { secretAccessKey?: string; accessKeyId?: string } = {}): S3Client {
    return createS3Client({
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      caBundle: this.caBundle,
      credentials: {
        accessKeyId: overrides.accessKeyId ?? this.accessKeyId,
        secretAccessKey: overrides.secretAccessKey ?? this.secretAccessKey,
      },
    });
  }

  /** Frees the space of deleted objects now instead of after RGW's 2-hour GC delay (long benchmarks). */
  async collectGarbage(): Promise<void> {
    await exec("radosgw-admin", ["-c", join(this.dir, "ceph.conf"), "gc", "process", "--include-all"]);
  }

  /** PIDs of the daemons still running. */
  get pids(): number[] {
    return this.procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => p.pid as number);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await killAll(this.procs);
    releaseDir(this.dir);
  }
}

function cephConf(
  o: { dir: string; fsid: string; monPort: number; rgwPort: number; pki: SandboxPki | undefined } & S3ServerOptions,
): string {
  const store = o.objectStore ?? "memstore";
  const capacity = o.capacityBytes ?? 8 * 1024 ** 3;
  const storeLines =
    store === "memstore"
      ? [`memstore device bytes = ${capacity}`]
      : // The block file is created sparse inside osd data; naming its path makes it a symlink to itself.
        ["bluestore block create = true", `bluestore block size = ${capacity}`, "bluestore fsck on mkfs = false"];
  return `${[
    "[global]",
    `fsid = ${o.fsid}`,
    `mon host = v2:127.0.0.1:${o.monPort}`,
    "public addr = 127.0.0.1",
    // Inside the cluster only; S3 SigV4 is verified regardless.
    "auth cluster required = none",
    "auth service required = none",
    "auth client required = none",
    // radosgw forces 'secure', which cannot work with auth none and hangs forever.
    "ms mon client mode = crc secure",
    "osd pool default size = 1",
    "osd pool default min size = 1",
    "mon allow pool size one = true",
    "osd crush chooseleaf type = 0",
    "mon max pg per osd = 1000",
    "osd pool default pg autoscale mode = off",
    // The mon commits map changes every second by default: OSD boot and first bucket take seconds.
    "paxos propose interval = 0.01",
    "paxos min wait = 0.001",
    "mon data avail warn = 1",
    "mon data avail crit = 1",
    `run dir = ${o.dir}/run`,
    `admin socket = ${o.dir}/run/$name.asok`,
    `log file = ${o.dir}/log/$name.log`,
    `mon cluster log file = ${o.dir}/log/cluster.log`,
    `crash dir = ${o.dir}/crash`,
    `osd objectstore = ${store}`,
    ...storeLines,
    "[mon.a]",
    `mon data = ${o.dir}/mon`,
    "[osd.0]",
    `osd data = ${o.dir}/osd`,
    "[client.rgw]",
    // Without tcp_nodelay keep-alive clients hit Nagle + delayed ACK: ~40 ms per small request.
    o.pki
      ? `rgw frontends = beast ssl_endpoint=127.0.0.1:${o.rgwPort} ssl_certificate=${o.pki.serverCert} ssl_private_key=${o.pki.serverKey} tcp_nodelay=1`
      : `rgw frontends = beast endpoint=127.0.0.1:${o.rgwPort} tcp_nodelay=1`,
    "rgw dns name = localhost",
  ].join("\n")}\n`;
}

async function exec(cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new Error(`${cmd} not found: install Ceph RGW with: apt-get install ceph-mon ceph-osd radosgw ceph-common`);
    }
    throw new Error(
      `${cmd} ${args.slice(2, 4).join(" ")} failed: ${(e.stderr ?? e.message).trim().split("\n").slice(-1)[0]}`,
    );
  }
}

function daemon(cmd: string, args: string[], dir: string): ChildProcess {
  // stdio to files: a pipe left unread would eventually block the daemon.
  const out = openSync(join(dir, "log", `${cmd}.out`), "a");
  const child = spawn(cmd, args, { stdio: ["ignore", out, out] });
  child.on("error", () => {});
  trackChild(child);
  return child;
}

async function waitForHttp(
  endpoint: string,
  ca: string | undefined,
  procs: ChildProcess[],
  dir: string,
): Promise<void> {
  const agent = ca ? new HttpsAgent({ ca: await readFile(ca) }) : undefined;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead) {
      const log = await readFile(join(dir, "log", `${dead.spawnfile}.out`), "utf8").catch(() => "");
      throw new Error(`${dead.spawnfile} exited while starting: ${log.trim().split("\n").slice(-1)[0] ?? ""}`);
    }
    try {
      if ((await getStatus(`${endpoint}/`, agent)) === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20)); // poll interval while radosgw binds
  }
  throw new Error(`radosgw did not answer on ${endpoint} within 30s`);
}

function getStatus(url: string, agent: HttpsAgent | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (agent ? httpsGet : httpGet)(url, agent ? { agent } : {}, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}

async function killAll(procs: ChildProcess[]): Promise<void> {
  const alive = procs.filter((p) => p.exitCode === null && p.signalCode === null);
  const exits = alive.map((p) => new Promise<void>((r) => p.once("exit", () => r())));
  for (const p of alive) p.kill("SIGKILL");
  await Promise.all(exits);
}
