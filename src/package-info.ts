import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inSea, seaJson } from "./sea.js";

/** The package's root directory: src/ runs from the checkout, dist/src/ from a build. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "proto"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("hcp-etcd-backup: package root (package.json + proto/) not found");
}

let version: string | undefined;

export function toolVersion(): string {
  if (version === undefined) {
    const pkg = inSea()
      ? seaJson<{ version: string }>("package.json")
      : (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string });
    version = pkg.version;
  }
  return version;
}
