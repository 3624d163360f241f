import { UsageError } from "../errors.js";

/** One member of the cluster a restore creates. */
export interface PlannedMember {
  readonly name: string;
  /** Its peer URLs, as recorded in the restored membership. */
  readonly peerURLs: readonly string[];
  /** Loopback members only: the client URL they are to serve on. */
  readonly clientURL?: string;
}

/** The TLS files a loopback cluster is started with (made by the restore). */
export interface MemberTls {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses etcd's `--initial-cluster` (`name=peerURL,...`; a name may appear once per peer URL) and
 * checks it the way etcd would before any restore runs: names, http(s) URLs with a port, no URL twice.
 */
export function parseInitialCluster(text: string): PlannedMember[] {
  const bad = (why: string) =>
    new UsageError(`invalid --initial-cluster "${text}": ${why} (expected name=https://host:port,...)`);
  const byName = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const entry of text.split(",")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw bad(`"${entry}" is not name=URL`);
    const name = entry.slice(0, eq).trim();
    const url = entry.slice(eq + 1).trim();
    if (!NAME.test(name)) throw bad(`member name "${name}" has characters other than letters, digits, '.', '_', '-'`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad(`"${url}" is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw bad(`"${url}" is not http(s)`);
    if (parsed.port === "" || parsed.pathname !== "/" || parsed.search || parsed.username)
      throw bad(`"${url}" must be scheme://host:port only`);
    const normal = `${parsed.protocol}//${parsed.host}`;
    if (seen.has(normal)) throw bad(`peer URL ${normal} appears twice`);
    seen.add(normal);
    byName.set(name, [...(byName.get(name) ?? []), normal]);
  }
  return [...byName].map(([name, peerURLs]) => ({ name, peerURLs }));
}

/** etcd's `--initial-cluster` text for members. */
export function initialClusterOf(members: readonly PlannedMember[]): string {
  return members.flatMap((m) => m.peerURLs.map((u) => `${m.name}=${u}`)).join(",");
}

/** The member named `name` of an initial cluster, or a usage error naming the ones there are. */
export function memberNamed(members: readonly PlannedMember[], name: string): PlannedMember {
  const m = members.find((x) => x.name === name);
  if (!m)
    throw new UsageError(
      `--name ${name} is not in --initial-cluster (it names ${members.map((x) => x.name).join(", ")})`,
    );
  return m;
}

/**
 * The etcd command line that starts a restored member. For a loopback member it is complete (client
 * and peer URLs, mutual TLS with the files the restore made); for a member of a real cluster it holds
 * the flags the restore fixed, to which the host's own listen URLs and TLS flags are added.
 */
export function startCommand(
  member: PlannedMember,
  cluster: readonly PlannedMember[],
  dataDir: string,
  token: string,
  tls?: MemberTls,
): string[] {
  const args = [
    "etcd",
    `--name=${member.name}`,
    `--data-dir=${dataDir}`,
    `--initial-advertise-peer-urls=${member.peerURLs.join(",")}`,
    `--initial-cluster=${initialClusterOf(cluster)}`,
    `--initial-cluster-token=${token}`,
    "--initial-cluster-state=new",
  ];
  if (member.clientURL) {
    args.push(
      `--listen-peer-urls=${member.peerURLs.join(",")}`,
      `--listen-client-urls=${member.clientURL}`,
      `--advertise-client-urls=${member.clientURL}`,
    );
  }
  if (tls) {
    args.push(
      "--client-cert-auth",
      `--trusted-ca-file=${tls.caCert}`,
      `--cert-file=${tls.serverCert}`,
      `--key-file=${tls.serverKey}`,
      "--peer-client-cert-auth",
      `--peer-trusted-ca-file=${tls.caCert}`,
      `--peer-cert-file=${tls.serverCert}`,
      `--peer-key-file=${tls.serverKey}`,
    );
  }
  return args;
}

/** A command line as a POSIX shell reads it back: words with special characters single-quoted. */
export function shellLine(args: readonly string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}
