// No container engine here: the Containerfile's structure is what can be checked, line by line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { IMAGE_BINARY } from "../../src/schedule/manifests.js";

const root = new URL("../../", import.meta.url);
const read = (f: string) => readFileSync(new URL(f, root), "utf8");

/** Instructions (continuation lines joined, comments dropped), grouped by stage. */
function stages(text: string): Array<{ from: string; name?: string; lines: string[] }> {
  const joined = text
    .split("\n")
    .filter((l) => !l.trim().startsWith("#"))
    .join("\n")
    .replace(/\\\n\s*/g, " ");
  const out: Array<{ from: string; name?: string; lines: string[] }> = [];
  for (const line of joined.split("\n").map((l) => l.trim())) {
    if (line === "") continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ from: from[1] as string, ...(from[2] ? { name: from[2] } : {}), lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

describe("Containerfile", () => {
  const all = stages(read("Containerfile"));
  const final = all.at(-1) as (typeof all)[number];
  const instr = (kw: string) => final.lines.filter((l) => l.toUpperCase().startsWith(`${kw} `));

  it("is multi-stage, every base pinned to an exact version (or digest), never latest", () => {
    assert.ok(all.length >= 2, "a build stage and a runtime stage");
    for (const s of all) {
      assert.match(s.from, /(:[^:@]*\d+\.\d+\.\d+[^:@]*|@sha256:[0-9a-f]{64})$/, `unpinned base ${s.from}`);
      assert.doesNotMatch(s.from, /:latest\b/);
    }
  });

  it("builds with dev dependencies in the build stage only; the runtime installs production dependencies only", () => {
    const build = all.slice(0, -1).flatMap((s) => s.lines);
    assert.ok(
      build.some((l) => /npm ci(?!.*--omit=dev)/.test(l)),
      "the build stage installs dev dependencies",
    );
    assert.ok(build.some((l) => /tsc -p tsconfig\.build\.json/.test(l)));
    const npm = final.lines.filter((l) => /\bnpm (ci|install|i)\b/.test(l));
    assert.ok(npm.length > 0);
    for (const l of npm) assert.match(l, /npm ci --omit=dev/, l);
    for (const l of instr("COPY")) assert.doesNotMatch(l, /node_modules/, `dependencies copied from a stage: ${l}`);
    assert.ok(
      instr("COPY").some((l) => /--from=\S+ \/src\/dist\/src/.test(l)),
      "compiled code from the build stage",
    );
    assert.deepEqual(JSON.parse(read("tsconfig.build.json")).include, ["src/**/*.ts"]);
  });

  it("carries etcdctl (Debian etcd-client) for restores", () => {
    assert.ok(instr("RUN").some((l) => /apt-get install .*\betcd-client\b/.test(l)));
  });

  it("runs as a numeric non-root user, to the end", () => {
    const users = instr("USER");
    const last = users.at(-1);
    assert.ok(last, "a USER in the runtime stage");
    const m = /^USER (\d+)(?::(\d+))?$/.exec(last);
    assert.ok(m, `numeric USER, got ${last}`);
    assert.notEqual(Number(m[1]), 0);
    const after = final.lines.slice(final.lines.indexOf(last) + 1);
    assert.ok(!after.some((l) => /^(RUN|USER)\b/i.test(l)), "nothing runs as another user after USER");
  });

  it("its entrypoint is the CLI, under the name the CronJob runs", () => {
    const [entry] = instr("ENTRYPOINT");
    assert.ok(entry);
    assert.deepEqual(JSON.parse(entry.slice("ENTRYPOINT ".length)), [IMAGE_BINARY]);
    const bin = (JSON.parse(read("package.json")) as { bin: Record<string, string> }).bin[IMAGE_BINARY];
    assert.equal(bin, "dist/src/cli/main.js");
    assert.ok(instr("RUN").some((l) => l.includes(`ln -s /app/${bin} /usr/local/bin/${IMAGE_BINARY}`)));
  });

  it("the build context leaves out dependencies, builds, tests and git", () => {
    for (const f of [".containerignore", ".dockerignore"]) {
      const ignored = read(f).split("\n");
      for (const p of ["node_modules", "dist", ".git", "test"]) assert.ok(ignored.includes(p), `${f} lacks ${p}`);
    }
  });
});
