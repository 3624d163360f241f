// The published package is the product: from the library's entry point and the CLI, following every
// import a run can take (static and the CLI's lazy `import()`), no module of the sandbox (the
// Kubernetes simulator, the demo's walk-through) is reached except through the one loader `demo` uses,
// and every package reached is a production dependency (`ws`, the simulator's, is not).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRIES = ["src/index.ts", "src/cli/main.ts"];
/** The one edge into the sandbox: `demo`'s loader, which says how to get the demo when it is absent. */
const SANDBOX_LOADER = { from: "src/cli/demo.ts", to: "src/demo/walkthrough.ts" };
const SANDBOX = /^src\/(kubesim|demo)\//;

interface Graph {
  readonly modules: Set<string>;
  readonly packages: Set<string>;
}

/** Value imports of a module (type-only ones are erased by tsc and load nothing). */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^;]*?\sfrom\s+)?"([^"]+)"/gms))
    specs.push(m[1] as string);
  for (const m of text.matchAll(/(?<!typeof\s+)\bimport\(\s*"([^"]+)"\s*\)/g)) specs.push(m[1] as string);
  return specs;
}

function walk(cutSandboxLoader: boolean): Graph {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const queue = [...ENTRIES];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (modules.has(file)) continue;
    modules.add(file);
    for (const spec of importsOf(readFileSync(join(ROOT, file), "utf8"))) {
      if (spec.startsWith("node:")) continue;
      if (!spec.startsWith(".")) {
        const parts = spec.split("/");
        packages.add(spec.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string));
        continue;
      }
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec.replace(/\.js$/, ".ts")));
      assert.ok(existsSync(join(ROOT, target)), `${file} imports ${spec}: no ${target}`);
      if (cutSandboxLoader && file === SANDBOX_LOADER.from && target === SANDBOX_LOADER.to) continue;
      queue.push(target);
    }
  }
  return { modules, packages };
}

describe("the package is the product", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    files: string[];
  };

  it("no module of the simulator or the demo is reached from the library or the CLI but through demo's loader", () => {
    const { modules } = walk(true);
    assert.ok(
      modules.has("src/backup/hosted-backup.ts") && modules.has("src/restore/watch.ts"),
      "the walk follows imports",
    );
    assert.deepEqual(
      [...modules].filter((m) => SANDBOX.test(m)),
      [],
    );
  });

  it("the check bites: through the loader the walk reaches the simulator", () => {
    assert.ok(walk(false).modules.has("src/kubesim/index.ts"));
  });

  it("every package the product imports is a production dependency, and ws is not one", () => {
    const { packages } = walk(true);
    assert.ok(packages.has("commander") && packages.has("@aws-sdk/client-s3"), [...packages].join(", "));
    assert.deepEqual(
      [...packages].filter((p) => !(p in pkg.dependencies)),
      [],
    );
    assert.equal("ws" in pkg.dependencies, false);
  });

  it("the published files leave out the sandbox's compiled modules", () => {
    for (const dir of ["kubesim", "demo"]) assert.ok(pkg.files.includes(`!dist/src/${dir}`), pkg.files.join(", "));
  });
});
