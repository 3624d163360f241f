import { type Command, Option } from "commander";
import { UsageError } from "../errors.js";
import type { TlsMaterial } from "../etcd/client.js";
import { type Endpoint, parseEndpoints } from "../etcd/endpoint.js";
import { loadTls } from "../etcd/tls.js";
import { parseObjectLock } from "../store/object-lock.js";
import type { StoreSettings } from "../store/open-store.js";

export interface EtcdFlags {
  endpoints?: string;
  cacert?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  user?: string;
  password?: string;
}

/** etcdctl's connection flags. The password may also come from HCPEB_ETCD_PASSWORD (keeps it out of `ps`). */
export function addEtcdOptions(cmd: Command): Command {
  return cmd
    .option("--endpoints <urls>", "etcd client URLs, comma-separated, e.g. https://host:2379 (required for plain etcd)")
    .option("--cacert <file>", "CA bundle that signed the etcd server certificates")
    .option("--cert <file>", "client certificate for mutual TLS")
    .option("--key <file>", "client private key for mutual TLS")
    .option("--server-name <name>", "name to check the server certificate against (default: the endpoint host)")
    .option("--user <name>", "etcd user (token auth)")
    .option("--password <password>", "etcd password (or set HCPEB_ETCD_PASSWORD)");
}

export async function etcdConnection(flags: EtcdFlags): Promise<{
  endpoints: Endpoint[];
  tls: TlsMaterial;
  auth?: { user: string; password: string };
}> {
  if (!flags.endpoints)
    throw new UsageError("missing --endpoints: the etcd client URL(s), e.g. https://127.0.0.1:2379");
  const endpoints = parseEndpoints(flags.endpoints);
  const tls = await loadTls({
    ...(flags.cacert ? { cacert: flags.cacert } : {}),
    ...(flags.cert ? { cert: flags.cert } : {}),
    ...(flags.key ? { key: flags.key } : {}),
    ...(flags.serverName ? { serverName: flags.serverName } : {}),
  });
  const password = flags.password ?? process.env.HCPEB_ETCD_PASSWORD;
  if (flags.user !== undefined && password === undefined)
    throw new UsageError("--user needs a password: --password or HCPEB_ETCD_PASSWORD");
  return {
    endpoints,
    tls,
    ...(flags.user !== undefined && password !== undefined ? { auth: { user: flags.user, password } } : {}),
  };
}

export interface StoreFlags {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3CaBundle?: string;
  s3Checksums?: boolean;
  s3Timeout?: number;
  profile?: string;
  sse?: string;
  sseKmsKeyId?: string;
  /** `backup --object-lock governance|compliance:<days>`. */
  objectLock?: string;
}

/** How to reach a store: what every command that reads or writes one needs. */
export function addStoreReadOptions(cmd: Command): Command {
  return cmd
    .option("--s3-endpoint <url>", "S3-compatible endpoint (Ceph RGW / ODF, MinIO); default AWS")
    .option("--s3-region <region>", "S3 region (default AWS_REGION or us-east-1)")
    .option("--s3-path-style", "path-style addressing (default on with --s3-endpoint)")
    .option("--s3-ca-bundle <file>", "extra CA bundle for the S3 endpoint")
    .option(
      "--s3-timeout <seconds>",
      "give up on an S3 request that makes no progress for this long (retried)",
      (v: string) => positiveSeconds("--s3-timeout", v),
      60,
    )
    .option("--profile <name>", "AWS shared config profile");
}

/** How to write a new snapshot object: only commands that upload one (backup) take these. */
export function addStoreUploadOptions(cmd: Command): Command {
  return cmd
    .option("--s3-checksums", "send the SDK's flexible checksums (off: many S3-compatible stores reject them)")
    .addOption(new Option("--sse <type>", "server-side encryption").choices(["AES256", "aws:kms"]))
    .option("--sse-kms-key-id <id>", "KMS key for --sse aws:kms");
}

export function storeSettings(flags: StoreFlags): StoreSettings {
  if (flags.sseKmsKeyId && flags.sse !== "aws:kms") throw new UsageError("--sse-kms-key-id needs --sse aws:kms");
  if (flags.profile) process.env.AWS_PROFILE = flags.profile;
  return {
    ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region ? { region: flags.s3Region } : {}),
    ...(flags.s3PathStyle !== undefined ? { forcePathStyle: flags.s3PathStyle } : {}),
    ...(flags.s3CaBundle ? { caBundle: flags.s3CaBundle } : {}),
    ...(flags.s3Checksums ? { checksums: true } : {}),
    ...(flags.s3Timeout !== undefined ? { idleTimeoutMs: flags.s3Timeout * 1000 } : {}),
    ...(flags.sse
      ? {
          sse: {
            type: flags.sse as "AES256" | "aws:kms",
            ...(flags.sseKmsKeyId ? { kmsKeyId: flags.sseKmsKeyId } : {}),
          },
        }
      : {}),
    ...(flags.objectLock !== undefined ? { objectLock: parseObjectLock(flags.objectLock) } : {}),
  };
}

function positiveSeconds(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive number of seconds, got "${value}"`);
  return n;
}

/** A count flag's value (digits only, within min..max), or the one-line usage error that says the range. */
export function countFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Parser for counts such as --keep-last. */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`expected a whole number >= 0, got "${value}"`);
  return n;
}

export const outputOption = (formats: string[] = ["text", "json"]) =>
  new Option("-o, --output <format>", "output format").choices(formats).default(formats[0]);
