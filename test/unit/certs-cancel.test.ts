// A terminal's Ctrl-C reaches every process of the foreground group: an openssl making the sandbox's
// certificates dies of the same SIGINT the tool is handling. That death is the cancel's echo (a CancelledError,
// not printed after "stopping and cleaning up"); openssl failing on its own stays an error with its first line.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CancelledError, OperationError } from "../../src/errors.js";
import { createCa } from "../../src/localetcd/certs.js";

describe("openssl stopped by the user's signal", () => {
  let dir: string;
  const path = process.env.PATH;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    process.env.PATH = path;
    await rm(dir, { recursive: true, force: true });
  });

  /** An `openssl` first on the PATH that behaves as `body` says (the real one is too quick to signal mid-run). */
  async function openssl(body: string): Promise<void> {
    const bin = join(dir, "bin");
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin);
    await writeFile(join(bin, "openssl"), `#!/bin/sh\n${body}\n`);
    await chmod(join(bin, "openssl"), 0o755);
    process.env.PATH = `${bin}:${path}`;
  }

  it("is a cancellation when SIGINT killed it", async () => {
    await openssl("kill -INT $$");
    await assert.rejects(
      createCa(dir, "ca"),
      (e) => e instanceof CancelledError && /stopped by SIGINT/.test(e.message),
    );
  });

  it("is a failure with openssl's first line when it failed by itself", async () => {
    await openssl("echo 'unable to load key' >&2; exit 1");
    await assert.rejects(
      createCa(dir, "ca"),
      (e) =>
        e instanceof OperationError && !(e instanceof CancelledError) && /failed: unable to load key$/.test(e.message),
    );
  });
});
