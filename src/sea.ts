import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sea from "node:sea";

/**
 * The single executable (`make dist`): the bundle has no package directory beside it, so what the
 * checkout reads from files (package.json, proto/, the worker scripts, the CRC-32C addon) comes from
 * the assets embedded in the executable instead.
 */
export function inSea(): boolean {
  return sea.isSea();
}

/** An embedded text asset (names as scripts/build-sea.ts stores them). */
export function seaText(name: string): string {
  return sea.getAsset(name, "utf8");
}

/** An embedded JSON asset. */
export function seaJson<T>(name: string): T {
  return JSON.parse(seaText(name)) as T;
}

/**
 * Loads an embedded native addon. dlopen needs a file, so it goes to a private directory under
 * TMPDIR that is removed as soon as it is loaded (the mapping outlives the file). Throws when
 * TMPDIR is not writable; the caller decides what to do without it.
 */
export function seaAddon<T>(name: string): T {
  const dir = mkdtempSync(join(tmpdir(), "hcp-etcd-backup-addon-"));
  try {
    const file = join(dir, name);
    writeFileSync(file, new Uint8Array(sea.getAsset(name)), { mode: 0o500 });
    const module = { exports: {} as T };
    process.dlopen(module, file);
    return module.exports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
