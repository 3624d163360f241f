import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trackDir } from "../localetcd/reaper.js";

/** Temp directories of the simulator start with this, so leftovers can be found. */
export const KUBESIM_DIR_PREFIX = "hcpeb-kubesim-";

/** A 0700 temp directory the reaper removes if the process dies before `releaseDir`. */
export async function makeTempDir(baseDir?: string): Promise<string> {
  const dir = await mkdtemp(join(baseDir ?? tmpdir(), KUBESIM_DIR_PREFIX));
  trackDir(dir);
  return dir;
}
