import { readFile } from "node:fs/promises";
import { basename } from "node:path";

import yaml from "js-yaml";
import { describe, UsageError } from "../errors.js";
import { listedKeyName } from "./key-objects.js";
import { type AescbcKey, hypershiftKey, Keyring } from "./keyring.js";

const KEY_LENGTHS = new Set([16, 24, 32]);

async function readInput(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read it: ${describe(err)}`);
  }
}

/**
 * `--key-file`, once per key: the raw key as `backup --key-to` saves it and as the key Secret's
 * `data.key` holds it (16, 24 or 32 bytes), or that key in base64 on one line. A file named as the
 * backup names a key only an EncryptionConfiguration listed (`encryption-key-listed-<name>`) keeps
 * that name, the one its values carry; any other goes by HyperShift's name for its bytes.
 */
export async function keyringFromKeyFiles(files: readonly string[]): Promise<Keyring> {
  const ring = new Keyring();
  for (const file of files) {
    const key = await keyOfFile(file);
    const listed = listedKeyName(basename(file));
    ring.add(listed === undefined ? hypershiftKey(key, file) : { name: listed, key, source: file });
  }
  return ring;
}

/** One key file's bytes: raw, or base64 on one line. */
async function keyOfFile(file: string): Promise<Buffer> {
  const bytes = await readInput(file, "--key-file");
  if (KEY_LENGTHS.has(bytes.length)) return bytes;
  const text = bytes.toString("latin1").trim();
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    const decoded = Buffer.from(text, "base64");
    if (KEY_LENGTHS.has(decoded.length)) return decoded;
  }
  throw new UsageError(
    `--key-file ${file}: not an aescbc key (${bytes.length} bytes; expected 16, 24 or 32 raw bytes, or those in base64)`,
  );
}

/**
 * `--encryption-config`: kube-apiserver's own EncryptionConfiguration, what a plain Kubernetes
 * user has. Every aescbc key of every resource entry, under the names it gives them.
 */
export async function keyringFromEncryptionConfig(file: string): Promise<Keyring> {
  const text = (await readInput(file, "--encryption-config")).toString("utf8");
  const where = `--encryption-config ${file}`;
  const keys = encryptionConfigKeys(text, file, (m) => new UsageError(`${where}: ${m}`));
  if (keys.length === 0) throw new UsageError(`${where}: no aescbc provider with keys in it`);
  return new Keyring(keys);
}

/**
 * The aescbc keys an EncryptionConfiguration lists (every resource entry, in order, under the names
 * it gives them; none when it has no aescbc provider). `source` names it in messages; `fail` makes
 * the error for a document that is not one (a usage error for a file the user gave, an operation
 * error for one read from a cluster).
 */
export function encryptionConfigKeys(text: string, source: string, fail: (message: string) => Error): AescbcKey[] {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw fail(`not YAML: ${describe(err).split("\n")[0]}`);
  }
  const kind = (doc as { kind?: unknown } | null)?.kind;
  if (kind !== "EncryptionConfiguration" && kind !== "EncryptionConfig")
    throw fail(`not an EncryptionConfiguration (kind ${String(kind)})`);
  const keys: AescbcKey[] = [];
  const resources = (doc as { resources?: unknown }).resources;
  for (const entry of Array.isArray(resources) ? resources : []) {
    const providers = (entry as { providers?: unknown }).providers;
    for (const p of Array.isArray(providers) ? providers : []) {
      const aescbc = (p as { aescbc?: { keys?: unknown } }).aescbc;
      for (const k of Array.isArray(aescbc?.keys) ? aescbc.keys : []) {
        const { name, secret } = k as { name?: unknown; secret?: unknown };
        if (typeof name !== "string" || typeof secret !== "string") throw fail("an aescbc key without name or secret");
        const key = Buffer.from(secret, "base64");
        if (!KEY_LENGTHS.has(key.length))
          throw fail(`aescbc key ${name} is ${key.length} bytes once decoded (expected 16, 24 or 32)`);
        keys.push({ name, key, source });
      }
    }
  }
  return keys;
}
