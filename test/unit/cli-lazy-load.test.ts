import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const RECORDER = fileURLToPath(new URL("../support/record-modules.ts", import.meta.url));
const SMALL_SNAPSHOT = fileURLToPath(new URL("../fixtures/bbolt-page-sizes/db_16384_fl.db", import.meta.url));
/** The heavy libraries: only the commands that talk to S3, Kubernetes or etcd load them. */
const HEAVY = ["@aws-sdk/client-s3", "@kubernetes/client-node", "@grpc/grpc-js"];

const dir = mkdtempSync(join(tmpdir(), "hcpeb-modules-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The module files a CLI run loaded (the CLI from source through tsx, as the unit tests run it). */
function modulesLoadedBy(args: string[]): string[] {
  const log = join(dir, `${args.join("_").replace(/\W/g, "")}.log`);
  const r = spawnSync(process.execPath, ["--import", "tsx", "--import", RECORDER, MAIN, ...args], {
    env: { ...process.env, HCPEB_MODULE_LOG: log },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

const heavyIn = (modules: string[]) => HEAVY.filter((lib) => modules.some((m) => m.includes(`/node_modules/${lib}/`)));

describe("start-up: the heavy libraries load only in the commands that use them", () => {
  it("--version loads none of the AWS SDK, client-node, gRPC: not even the command line's parser", () => {
    const modules = modulesLoadedBy(["--version"]);
    assert.ok(
      modules.some((m) => m.includes("/src/package-info.")),
      "the recorder saw the CLI's imports",
    );
    assert.deepEqual(heavyIn(modules), []);
    assert.deepEqual(
      // tsx is how the unit tests run the CLI from source, not the CLI's.
      modules.filter((m) => m.includes("/node_modules/") && !/\/node_modules\/(tsx|esbuild)\//.test(m)),
      [],
      "--version alone is answered before any library loads",
    );
  });

  it("snapshot status of a file loads none of them either", () => {
    assert.deepEqual(heavyIn(modulesLoadedBy(["snapshot", "status", SMALL_SNAPSHOT, "-w", "json"])), []);
  });

  it("list of a local store loads none of them: the AWS SDK comes with the first request to an S3 store", () => {
    const store = mkdtempSync(join(dir, "store-"));
    assert.deepEqual(heavyIn(modulesLoadedBy(["list", "--from", store, "-o", "json"])), []);
  });

  it("the recorder does see each of them when they are imported (so the checks above can fail)", () => {
    const log = join(dir, "control.log");
    const code = HEAVY.map((lib) => `await import(${JSON.stringify(lib)});`).join(" ");
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "--import", RECORDER, "--input-type=module", "-e", code],
      {
        env: { ...process.env, HCPEB_MODULE_LOG: log },
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(heavyIn(readFileSync(log, "utf8").split("\n")), HEAVY);
  });
});
