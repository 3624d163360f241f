// `restore watch` against an API server it cannot talk to at all (a closed port, a certificate the
// kubeconfig's CA did not sign): a wrong kubeconfig, which waiting does not fix. The watch must end at
// once with one line, not retry until --timeout (15 minutes here: the test's bound would end it first).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createPki } from "../../src/localetcd/certs.js";
import { runCli } from "../support/cli.js";
import { createForeignClient } from "../support/foreign-ca.js";

/** A kubeconfig for `server` that trusts `caFile` only. */
async function kubeconfig(path: string, server: string, caFile: string): Promise<string> {
  const ca = (await readFile(caFile)).toString("base64");
  await writeFile(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: mgmt",
      "  cluster:",
      `    server: ${server}`,
      `    certificate-authority-data: ${ca}`,
      "users:",
      "- name: admin",
      "  user:",
      "    token: not-a-secret",
      "contexts:",
      "- name: mgmt",
      "  context: {cluster: mgmt, user: admin}",
      "current-context: mgmt",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("restore watch: an API server it cannot talk to on the first call (built CLI)", () => {
  let work: string;
  let tls: Server;
  let tlsPort: number;
  let foreignCa: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    const pki = await createPki(work);
    // A real HTTPS server whose certificate our kubeconfig's CA did not sign.
    tls = createHttpsServer({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) }, (_req, res) =>
      res.end("{}"),
    );
    await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
    tlsPort = (tls.address() as { port: number }).port;
    const foreignDir = join(work, "foreign");
    await mkdir(foreignDir);
    foreignCa = (await createForeignClient(foreignDir)).caCert;
  });
  after(async () => {
    if (tls) await new Promise<void>((resolve) => tls.close(() => resolve()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The old watch waited out --timeout 15m: the bound makes that a failed test (killed, no exit code). */
  const watch = (kc: string) =>
    runCli(["restore", "watch", "example", "-n", "clusters", "--kubeconfig", kc, "--timeout", "15m"], {
      timeoutMs: 60_000,
    });

  const oneLine = (stderr: string): string => {
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.doesNotMatch(stderr, /unexpected error|please report|\n\s+at /);
    return lines[0] as string;
  };

  it("connection refused: fatal at once, one line naming the server and what to check, exit 1", async () => {
    const server = `https://127.0.0.1:${await closedPort()}`;
    const r = await watch(await kubeconfig(join(work, "refused.kubeconfig"), server, foreignCa));
    assert.equal(r.signal, null, "the watch did not end by itself");
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    const line = oneLine(r.stderr);
    assert.ok(line.startsWith(`hcp-etcd-backup: cannot reach the Kubernetes API at ${server} `), line);
    assert.match(line, /connection refused \(ECONNREFUSED\): check the server in the kubeconfig/);
  });

  it("a certificate the kubeconfig's CA did not sign: fatal at once, one line, exit 1", async () => {
    const server = `https://127.0.0.1:${tlsPort}`;
    const r = await watch(await kubeconfig(join(work, "foreign.kubeconfig"), server, foreignCa));
    assert.equal(r.signal, null, "the watch did not end by itself");
    assert.equal(r.code, 1, r.stderr);
    const line = oneLine(r.stderr);
    assert.ok(line.startsWith(`hcp-etcd-backup: cannot talk TLS to the Kubernetes API at ${server} `), line);
    assert.match(
      line,
      /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): the kubeconfig's certificate-authority-data must be the CA/,
    );
  });
});
