import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.js";
import type { TlsMaterial } from "./client.js";

export interface TlsFiles {
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly serverName?: string;
}

async function load(path: string, flag: string): Promise<Buffer> {
  try {
    const pem = await readFile(path);
    if (!pem.includes("-----BEGIN")) throw new UsageError(`${flag} ${path} is not a PEM file`);
    return pem;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Reads the CLI's TLS files (etcdctl's --cacert/--cert/--key), checking they come as a usable set. */
export async function loadTls(files: TlsFiles): Promise<TlsMaterial> {
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new UsageError("--cert and --key go together: pass both (the client certificate and its private key)");
  }
  return {
    ...(files.cacert ? { ca: await load(files.cacert, "--cacert") } : {}),
    ...(files.cert ? { cert: await load(files.cert, "--cert") } : {}),
    ...(files.key ? { key: await load(files.key, "--key") } : {}),
    ...(files.serverName ? { serverName: files.serverName } : {}),
  };
}
