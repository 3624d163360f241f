import { execFile } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CancelledError, OperationError } from "../errors.js";

const run = promisify(execFile);

/** Paths of a throwaway PKI: one CA, a server/peer certificate for loopback, a client certificate. */
export interface SandboxPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; signal?: NodeJS.Signals | null };
    // A terminal's Ctrl-C reaches every process of the foreground group, openssl included: its death is the
    // echo of the user's cancel, not a failure of its own to report after "stopping and cleaning up".
    if (e.signal === "SIGINT" || e.signal === "SIGTERM" || e.signal === "SIGHUP")
      throw new CancelledError(`openssl ${args[0]} was stopped by ${e.signal}`);
    if (e.code === "ENOENT") throw new OperationError("openssl not found: install it (apt-get install openssl)");
    throw new OperationError(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split("\n")[0]}`);
  }
}

/** A self-signed CA (7 days) in `dir`. */
export async function createCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      `/CN=${name}`,
      "-days",
      "7",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return { cert, key };
}

/** Issues a leaf certificate signed by `ca`; `usage` picks the extended key usages etcd checks. */
export async function issueCert(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  cn: string,
  usage: "server" | "client",
  extraDnsNames: readonly string[] = [],
  ips: readonly string[] = ["127.0.0.1"],
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  // Server certs also serve as peer certs, and etcd peers connect to each other as clients.
  const lines =
    usage === "server"
      ? [
          `subjectAltName=${[...["localhost", ...extraDnsNames].map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(",")}`,
          "extendedKeyUsage=serverAuth,clientAuth",
        ]
      : ["extendedKeyUsage=clientAuth"];
  await writeFile(ext, `${lines.join("\n")}\n`);
  await openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      `/CN=${cn}`,
    ],
    dir,
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-out",
      cert,
      "-days",
      "7",
      "-extfile",
      ext,
    ],
    dir,
  );
  await chmod(key, 0o600);
  return { cert, key };
}

/**
 * Creates a fresh PKI in `dir` (which must exist). `serverNames` are extra DNS names for the server
 * certificate: a sandbox standing in for a hosted control plane's etcd carries the names HyperShift's
 * certificates carry (`etcd-client.<ns>.svc`, ...), so clients check the same name they would in a cluster.
 * `serverIPs` are its IP addresses (default 127.0.0.1; its peers reach each other there).
 */
export async function createPki(
  dir: string,
  caName = "hcpeb-sandbox-ca",
  serverNames: readonly string[] = [],
  serverIPs: readonly string[] = ["127.0.0.1"],
): Promise<SandboxPki> {
  const ca = await createCa(dir, caName);
  const server = await issueCert(dir, ca, "server", "etcd-server", "server", serverNames, serverIPs);
  const client = await issueCert(dir, ca, "client", "root", "client");
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
  };
}
