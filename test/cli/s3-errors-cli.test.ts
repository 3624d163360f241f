// The built CLI against S3 it cannot use: no credentials anywhere (S3 is never asked, so it did not
// refuse anything), and an endpoint where nothing listens. One line each, exit 1, and the line says
// what to set or check. No daemon: a closed loopback port, and the environment scrubbed of AWS_*.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("S3 that cannot be used: no credentials, nothing listening (built CLI, no daemon)", () => {
  let work: string;
  let endpoint: string;
  /** Every AWS_* variable of this process removed; no ~/.aws; instance metadata off (it is not on loopback). */
  let noAws: NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    endpoint = `http://127.0.0.1:${await closedPort()}`;
    noAws = Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => k.startsWith("AWS_"))
        .map((k) => [k, undefined]),
    );
    Object.assign(noAws, {
      HOME: work,
      AWS_CONFIG_FILE: join(work, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(work, "no-credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
    });
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const list = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
    runCli(["list", "--from", "s3://backups/clusters", "--s3-endpoint", endpoint, ...extra], { env });
  const oneLine = (r: { code: number | null; stderr: string; stdout: string }): string => {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at |S3 refused|CredentialsProviderError/);
    return lines[0] as string;
  };

  it("no credentials: says none were found and lists what to set", async () => {
    const line = oneLine(await list(noAws));
    assert.equal(
      line,
      `hcp-etcd-backup: no S3 credentials to list clusters/ in bucket "backups" at ${endpoint}: none in the environment, ~/.aws, web identity or instance metadata; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME (~/.aws/credentials or ~/.aws/config), or use web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)`,
    );
  });

  it("--profile that gives no credentials: names the profile", async () => {
    const line = oneLine(await list(noAws, "--profile", "backup-writer"));
    assert.match(line, /: profile "backup-writer" \(--profile \/ AWS_PROFILE\) gave none; set AWS_ACCESS_KEY_ID/);
  });

  it("an endpoint where nothing listens: names the endpoint and what happened, with the secret nowhere", async () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const r = await list({ ...noAws, AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: secret });
    const line = oneLine(r);
    assert.equal(
      line,
      `hcp-etcd-backup: cannot reach S3 endpoint ${endpoint} to list clusters/: connection refused (${endpoint.slice("http://".length)}), ECONNREFUSED: check --s3-endpoint and that the store is up`,
    );
    assert.ok(!r.stderr.includes(secret));
  });
});
