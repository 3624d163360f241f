import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { describe, OperationError, UsageError } from "../../errors.js";

/** The rendered manifests, or one line saying why they cannot be read. */
export async function readRendered(file: string): Promise<{ text: string; where: string }> {
  try {
    return { text: await readFile(file, "utf8"), where: file };
  } catch (err) {
    throw new UsageError(`cannot read --rendered ${file}: ${describe(err)}`, { cause: err });
  }
}

/**
 * Writes a file that holds secrets (the presigned URL, the key) with mode 0600 from its first byte:
 * a temp file beside it, renamed over the target, so a reader never sees half a file or other modes.
 */
export async function writeSecretFile(file: string, text: string): Promise<void> {
  const part = `${file}.${randomBytes(4).toString("hex")}.part`;
  try {
    await writeFile(part, text, { mode: 0o600, flag: "wx" });
    await rename(part, file);
  } catch (err) {
    await rm(part, { force: true });
    throw new OperationError(`cannot write ${file}: ${describe(err)}`, { cause: err });
  }
}
