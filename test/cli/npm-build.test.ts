// `npm run build` alone (no make) leaves a dist/ that runs: the CLI executable through its shebang, and
// the CRDs the Kubernetes simulator reads beside its compiled modules. Built in a copy of the sources,
// so the dist/ other tests use is left alone.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readdir, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("npm run build", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    // The sources the CLI is built from (tsconfig's test/ and bench/ globs then match nothing: faster).
    for (const entry of ["package.json", "tsconfig.json", "src", "proto"])
      await cp(join(ROOT, entry), join(work, entry), { recursive: true });
    await symlink(join(ROOT, "node_modules"), join(work, "node_modules"));
    execFileSync("npm", ["run", "--silent", "build"], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("leaves dist/src/cli/main.js executable, and it runs through its shebang", async () => {
    const main = join(work, "dist/src/cli/main.js");
    assert.equal((await stat(main)).mode & 0o111, 0o111);
    const version = execFileSync(main, ["--version"], { encoding: "utf8" }).trim();
    assert.match(version, /^\d+\.\d+\.\d+/);
  });

  it("copies the HyperShift CRDs beside the simulator's compiled modules", async () => {
    const source = (await readdir(join(ROOT, "src/kubesim/crds"))).filter((f) => f.endsWith(".yaml")).sort();
    assert.ok(source.length > 0);
    assert.deepEqual((await readdir(join(work, "dist/src/kubesim/crds"))).sort(), source);
  });
});
