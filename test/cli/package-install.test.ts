// The package as users get it: `npm pack`, then installed into an empty project (imported by name, as a
// library, against a real etcd) and with `npm install -g` (the CLI on the PATH, its completion scripts,
// `demo` without the sandbox). npm installs from its cache (warm from `npm ci`); only metadata it has never
// fetched (the first run on a machine) comes from the registry.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NO_SANDBOX } from "../../src/cli/demo.js";
import { CLI } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SMALL_SNAPSHOT = join(ROOT, "test/fixtures/bbolt-page-sizes/db_16384_fl.db");
const SUPPORTED = ["backupEtcd", "backupHostedCluster", "verifyBackup", "openStore", "prepareRestore", "watchRestore"];

/** `npm install` from the cache alone; when the cache lacks some metadata, the registry may fill it in. */
async function npmInstall(cwd: string, args: string[]): Promise<void> {
  const base = ["install", "--no-audit", "--no-fund", "--loglevel=error", ...args];
  try {
    await run("npm", ["--offline", ...base], { cwd });
  } catch (err) {
    if (!/ENOTCACHED/.test(String((err as { stderr?: string }).stderr))) throw err;
    await run("npm", ["--prefer-offline", ...base], { cwd });
  }
}

/** The library as a consumer uses it: imported by name from an .mjs file of its own project. */
const CONSUMER = `import * as lib from "hcp-etcd-backup";
const [endpoints, cacert, cert, key, dir] = process.argv.slice(2);
const tls = await lib.loadTls({ cacert, cert, key, serverName: "localhost" });
const backup = await lib.backupEtcd({ endpoints: lib.parseEndpoints(endpoints), tls, store: lib.openStore(dir), label: "lib" });
const verified = await lib.verifyBackup(lib.openStore(backup.ref));
let deepImport = "allowed";
try { await import("hcp-etcd-backup/dist/src/kubesim/index.js"); } catch (err) { deepImport = err.code; }
console.log(JSON.stringify({
  functions: ${JSON.stringify(SUPPORTED)}.filter((n) => typeof lib[n] === "function"),
  ref: backup.ref, revision: backup.manifest.snapshot.revision, problems: verified.problems, deepImport,
}));
`;

describe("the packed package, installed as users install it", () => {
  let work: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  let cluster: EtcdCluster;
  let bin: string;
  const version = JSON.parse(spawnSync("npm", ["pkg", "get", "version"], { cwd: ROOT, encoding: "utf8" }).stdout);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // dist/ is built already (`make test` builds first); the tarball is what `npm publish` would send.
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
      cwd: ROOT,
    });
    packed = (JSON.parse(stdout) as (typeof packed)[])[0] as typeof packed;
    const tgz = join(work, packed.filename);
    await mkdir(join(work, "app"));
    await writeFile(
      join(work, "app/package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    const started = EtcdCluster.start({ members: 1 });
    try {
      // Side by side: each is mostly waiting on unpacking the same cached tarballs.
      await Promise.all([
        npmInstall(join(work, "app"), [tgz]),
        npmInstall(work, ["--global", "--prefix", join(work, "global"), tgz]),
      ]);
    } finally {
      cluster = await started;
    }
    bin = join(work, "global/bin");
  });
  after(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The installed command, found on the PATH as a user's shell finds it. */
  const onPath = (args: string[], shell?: string) =>
    spawnSync(shell ?? "hcp-etcd-backup", shell ? args : args, {
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` },
      encoding: "utf8",
    });

  it("holds the product only: no simulator, no demo walk-through, no source maps; ws is no dependency", async () => {
    const paths = packed.files.map((f) => f.path);
    for (const f of ["dist/src/index.js", "dist/src/index.d.ts", "dist/src/cli/main.js", "proto/etcd.proto"])
      assert.ok(paths.includes(f), f);
    assert.deepEqual(
      paths.filter((p) => /^dist\/src\/(kubesim|demo)\/|\.map$/.test(p)),
      [],
    );
    const pkg = JSON.parse(await readFile(join(work, "app/node_modules/hcp-etcd-backup/package.json"), "utf8"));
    assert.equal(pkg.dependencies.ws, undefined);
  });

  it("imports by name: the supported entry points exist, and a backup of a real etcd verifies", async () => {
    await writeFile(join(work, "app/use.mjs"), CONSUMER);
    const client = await cluster.client();
    let written: number;
    try {
      written = await client.put("/kubernetes.io/configmaps/default/lib", "from the library test");
    } finally {
      client.close();
    }
    const { cacert, cert, key } = cluster.tlsFiles;
    const store = join(work, "lib-store");
    const { stdout } = await run(process.execPath, ["use.mjs", cluster.endpoints.join(","), cacert, cert, key, store], {
      cwd: join(work, "app"),
    });
    const out = JSON.parse(stdout) as {
      functions: string[];
      ref: string;
      revision: number;
      problems: string[];
      deepImport: string;
    };
    assert.deepEqual(out.functions, SUPPORTED);
    assert.ok(out.ref.startsWith(join(store, "lib")), out.ref);
    assert.equal(out.revision, written);
    assert.deepEqual(out.problems, []);
    // The exports map closes the package's insides, the sandbox's place included.
    assert.equal(out.deepImport, "ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("npm install -g puts a working hcp-etcd-backup on the PATH", () => {
    const v = onPath(["--version"]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), version);
    const installed = onPath(["snapshot", "status", SMALL_SNAPSHOT, "-w", "json"]);
    const checkout = spawnSync(process.execPath, [CLI, "snapshot", "status", SMALL_SNAPSHOT, "-w", "json"], {
      encoding: "utf8",
    });
    assert.equal(installed.status, 0, installed.stderr);
    assert.match(installed.stdout, /"revision"/);
    assert.equal(installed.stdout, checkout.stdout);
  });

  it("demo in an install without the sandbox says how to run it, in one line, exit 2", () => {
    const r = onPath(["demo"]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `hcp-etcd-backup: ${NO_SANDBOX}\n`);
  });

  it("completion bash: sourced, it is registered and completes commands, flags and choices", () => {
    const complete = (words: string[]) =>
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _hcp_etcd_backup; echo "${words.join(" ")}=> [\${COMPREPLY[*]}]"`;
    const script = [
      "set -e",
      "source <(hcp-etcd-backup completion bash)",
      "complete -p hcp-etcd-backup",
      complete(["hcp-etcd-backup", "restore", ""]),
      complete(["hcp-etcd-backup", "--log-format", "json", "restore", "prepare", "--"]),
      complete(["hcp-etcd-backup", "restore", "prepare", "--report", ""]),
      complete(["hcp-etcd-backup", "restore", "prepare", "--rendered", ""]),
    ].join("\n");
    const r = onPath(["-c", script], "bash");
    assert.equal(r.status, 0, r.stderr);
    const [registered, restore, prepareFlags, report, rendered] = r.stdout.trim().split("\n");
    assert.equal(registered, "complete -o default -F _hcp_etcd_backup hcp-etcd-backup");
    assert.equal(restore, "hcp-etcd-backup restore => [prepare watch local help]");
    const flags = (prepareFlags ?? "").replace(/.*=> \[|\]$/g, "").split(" ") ?? [];
    for (const f of ["--rendered", "--key-identity", "--apply", "--report", "--s3-endpoint", "--help"])
      assert.ok(flags.includes(f), `${f} in ${prepareFlags}`);
    assert.ok(!flags.includes("--to"), "backup's flags are not restore prepare's");
    assert.equal(report, "hcp-etcd-backup restore prepare --report => [text json]");
    // A free value (a file): nothing offered, and `-o default` completes file names.
    assert.equal(rendered, "hcp-etcd-backup restore prepare --rendered => []");
  });

  it("completion zsh: a #compdef function with the same tree (run under zsh when it is installed)", () => {
    const r = onPath(["completion", "zsh"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^#compdef hcp-etcd-backup\n/);
    assert.match(r.stdout, /\n {4}\("restore prepare"\) reply=\('--rendered:/);
    assert.match(r.stdout, /\n {2}compdef _hcp_etcd_backup hcp-etcd-backup\n/);
    if (spawnSync("zsh", ["--version"]).status !== 0) return;
    assert.equal(spawnSync("zsh", ["-n"], { input: r.stdout }).status, 0, "zsh -n");
    // compsys's functions stand in as printers: what the script would offer, for a typed line.
    const file = join(work, "_hcp-etcd-backup");
    writeFileSync(file, r.stdout);
    const script = `compdef() { print -r -- "compdef $*" }
source ${file}
compadd() { print -r -- "values: \${(P)2}" }
_describe() { print -r -- "$3: \${(@)\${(P)4}%%:*}" }
_files() { print -r -- "files" }
t() { words=("$@"); CURRENT=$#; _hcp_etcd_backup }
t hcp-etcd-backup restore ""
t hcp-etcd-backup restore prepare --report ""
t hcp-etcd-backup restore prepare --rendered ""
t hcp-etcd-backup --log-level info completion ""`;
    const z = spawnSync("zsh", ["-f", "-c", script], { encoding: "utf8" });
    assert.equal(z.status, 0, z.stderr);
    assert.deepEqual(z.stdout.trim().split("\n"), [
      "compdef _hcp_etcd_backup hcp-etcd-backup",
      "command: prepare watch local help",
      "values: text json",
      "files",
      "command: bash zsh",
    ]);
  });
});
