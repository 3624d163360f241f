import { constants } from "node:fs";
import { access, open, stat, unlink } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { OperationError } from "../errors.js";
import { EtcdClient, type TlsMaterial } from "../etcd/client.js";
import type { Endpoint } from "../etcd/endpoint.js";
import { fsCause } from "../snapshot/errors.js";
import { LocalStore } from "../store/local-store.js";
import { SnapshotVerifier, type VerifiedSnapshot } from "./verified-stream.js";

const FS_SYSCALLS = new Set(["open", "mkdir", "write", "writev", "fsync", "close", "rename"]);

export interface SaveRequest {
  readonly endpoint: Endpoint;
  readonly file: string;
  readonly tls?: TlsMaterial;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytes: number, total: number) => void;
}

/**
 * `etcdctl snapshot save`, verified: streams the snapshot into `<file>.part` (mode 0600), checks
 * the SHA-256 trailer and the structure on the way, fsyncs and renames. On any failure nothing is
 * left behind, not even the .part file. The destination is checked before etcd is contacted, so a
 * mistyped path costs nothing rather than a whole snapshot's transfer.
 */
export async function saveSnapshotFile(req: SaveRequest): Promise<VerifiedSnapshot> {
  await checkDestination(req.file);
  const client = await EtcdClient.connect({
    endpoint: req.endpoint,
    tls: req.tls,
    auth: req.auth,
    signal: req.signal,
  });
  try {
    const verifier = new SnapshotVerifier({ onProgress: req.onProgress });
    try {
      await new LocalStore(dirname(req.file)).put(
        basename(req.file),
        verifier.pipe(client.snapshot(), req.endpoint.url),
        { signal: req.signal },
      );
    } catch (err) {
      // The destination was fine before streaming; if it changed meanwhile, still name the path.
      if (FS_SYSCALLS.has((err as NodeJS.ErrnoException).syscall ?? ""))
        throw new OperationError(`cannot write snapshot file ${req.file}: ${fsCause(err)}`, { cause: err });
      throw err;
    }
    return verifier.result;
  } finally {
    client.close();
  }
}

/**
 * Fails with one line naming the path and the cause when the snapshot could not be written there:
 * the file is a directory, its folder is missing (never created: as with cp, a typo in the folder
 * is a mistake, not a wish) or is a file, or the `.part` cannot be created (read-only file system,
 * permissions).
 */
export async function checkDestination(file: string): Promise<void> {
  const fail = (cause: string, err?: unknown): never => {
    throw new OperationError(`cannot write snapshot file ${file}: ${cause}`, err === undefined ? {} : { cause: err });
  };
  const dir = dirname(resolve(file));
  const parent = await stat(dir).catch((err: NodeJS.ErrnoException) =>
    fail(err.code === "ENOENT" ? `the directory ${dir} does not exist` : `${dir}: ${fsCause(err)}`, err),
  );
  if (!parent.isDirectory()) fail(`${dir} is not a directory`);
  const existing = await stat(file).catch((err: NodeJS.ErrnoException) =>
    err.code === "ENOENT" ? undefined : fail(fsCause(err), err),
  );
  if (existing?.isDirectory()) fail("is a directory");
  // Creating the .part is the one test that covers read-only mounts, ACLs and the like; an existing
  // one (a save that was killed) is left for the save itself to overwrite.
  const part = `${file}.part`;
  try {
    const fh = await open(part, "wx", 0o600);
    await fh.close();
    await unlink(part);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EEXIST") fail(`cannot create ${basename(part)} there: ${fsCause(err)}`, err);
    if ((await stat(part)).isDirectory()) fail(`${part} is a directory`);
    await access(part, constants.W_OK).catch((e: unknown) => fail(`cannot write ${basename(part)}: ${fsCause(e)}`, e));
  }
}
