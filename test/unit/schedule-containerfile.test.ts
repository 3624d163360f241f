// The Containerfile's structure, line by line, and its agreement with the CronJob that `schedule` renders.
// Building and running the image is test/image/image.test.ts (`make test-image`: needs podman).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { IMAGE_BINARY, SCRATCH_DIR } from "../../src/schedule/manifests.js";

const root = new URL("../../", import.meta.url);
const read = (f: string) => readFileSync(new URL(f, root), "utf8");

/** Instructions, continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => !l.trim().startsWith("#"))
    .join("\n")
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** A `NAME := value` of the Makefile. */
function makeVar(name: string): string {
  const m = new RegExp(`^${name} := (.*)$`, "m").exec(read("Makefile"));
  assert.ok(m, `Makefile sets ${name}`);
  return (m[1] as string).trim();
}

describe("Containerfile", () => {
  const lines = instructions(read("Containerfile"));
  const instr = (kw: string) => lines.filter((l) => l.toUpperCase().startsWith(`${kw} `));

  it("has one stage, on a BASE build-arg that defaults to the base `make image` makes here", () => {
    const from = instr("FROM");
    assert.equal(from.length, 1, "one stage");
    assert.match(from[0] as string, /^FROM \$\{BASE\}$/);
    const arg = lines.find((l) => l.startsWith("ARG BASE="));
    assert.ok(arg && lines.indexOf(arg) < lines.indexOf(from[0] as string), "ARG BASE before FROM");
    assert.equal(arg.slice("ARG BASE=".length), makeVar("LOCAL_BASE"));
    assert.match(makeVar("LOCAL_BASE"), /^localhost\//, "no public registry by default");
  });

  it("runs nothing while building (no RUN): the base needs no shell, no package manager", () => {
    assert.deepEqual(instr("RUN"), []);
  });

  it("copies the staged layers only, least often changed first", () => {
    assert.deepEqual(instr("COPY"), ["COPY runtime/ /", "COPY modules/ /", "COPY app/ /"]);
  });

  it("runs as a numeric non-root user, to the end", () => {
    const users = instr("USER");
    const last = users.at(-1);
    assert.ok(last, "a USER");
    const m = /^USER (\d+)(?::(\d+))?$/.exec(last);
    assert.ok(m, `numeric USER, got ${last}`);
    assert.notEqual(Number(m[1]), 0);
    assert.notEqual(Number(m[2] ?? m[1]), 0);
    const after = lines.slice(lines.indexOf(last) + 1);
    assert.ok(!after.some((l) => /^(RUN|USER|COPY|ADD)\b/i.test(l)), "nothing changes after USER");
  });

  it("its entrypoint is the CLI in exec form, under the name the CronJob runs", () => {
    const [entry] = instr("ENTRYPOINT");
    assert.ok(entry);
    assert.deepEqual(JSON.parse(entry.slice("ENTRYPOINT ".length)), [IMAGE_BINARY]);
    const bin = (JSON.parse(read("package.json")) as { bin: Record<string, string> }).bin[IMAGE_BINARY];
    assert.equal(bin, "dist/src/cli/main.js");
    // The Node payload links it onto PATH; the single executable is copied there under the same name.
    const make = read("Makefile");
    assert.ok(make.includes(`ln -s ../../../$(APP_DIR)/${bin} $(IMAGE_CONTEXT)/app/usr/local/bin/${IMAGE_BINARY}`));
    assert.ok(make.includes(`cp dist/bin/${IMAGE_BINARY} $(IMAGE_CONTEXT)/app/usr/local/bin/`));
  });

  it("writes only where the CronJob mounts its emptyDir, on a read-only root", () => {
    const env = instr("ENV").join(" ");
    assert.match(env, new RegExp(`\\bTMPDIR=${SCRATCH_DIR}\\b`));
    assert.match(env, new RegExp(`\\bHOME=${SCRATCH_DIR}\\b`));
    assert.match(env, /\bPATH=\S*\/usr\/local\/bin\b/);
  });
});

describe("make image", () => {
  it("on a machine without podman says what to install, in one line, and fails", () => {
    // A PATH with what the Makefile itself runs, and no podman.
    const bin = mkdtempSync(join(tmpdir(), "hcpeb-nopodman-"));
    try {
      for (const tool of ["node", "find", "sort"]) {
        const found = spawnSync("/bin/bash", ["-c", `command -v ${tool}`], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        }).stdout.trim();
        symlinkSync(found, join(bin, tool));
      }
      const r = spawnSync("/usr/bin/make", ["--no-print-directory", "-s", "image"], {
        cwd: fileURLToPath(root),
        env: { PATH: bin },
        encoding: "utf8",
        // Not a socket on stdin: Debian's bash would take that for rsh and read ~/.bashrc.
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert.notEqual(r.status, 0);
      assert.equal(
        r.stdout,
        "make image needs podman: run 'make apt-image' (apt-get install podman runc mmdebstrap binutils)\n",
      );
      // make adds only its own "*** [Makefile:N: image-tools] Error 1".
      assert.match(r.stderr, /^make: \*\*\* \[Makefile:\d+: image-tools\] Error 1\n$/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
