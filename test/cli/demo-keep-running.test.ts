// `demo --keep-running`: the sandbox stays up for trying commands by hand, and Ctrl-C takes it all down.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { it } from "node:test";
import { promisify } from "node:util";
import { spawnCli } from "../support/cli.js";

const run = promisify(execFile);

/** Processes whose parent is `pid`, with their command lines. */
function childrenOf(pid: number): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      out.push({
        pid: Number(entry),
        argv: readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean),
      });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

it("demo --keep-running leaves the sandbox up, its printed backup command works, and SIGINT removes everything", async () => {
  const cli = spawnCli(["demo", "--data-mib", "1", "--keep-running"]);
  try {
    const kubeconfigLine = await new Promise<string>((resolve, reject) => {
      const seen = () => /^kubeconfig: (.+)$/m.exec(cli.stdout());
      cli.child.stdout?.on("data", () => {
        const m = seen();
        if (m) resolve(m[1] as string);
      });
      cli.exited.then((e) => reject(new Error(`demo exited (${e.code}) first:\n${cli.stdout()}${cli.stderr()}`)));
    });
    assert.ok(existsSync(kubeconfigLine), `the printed kubeconfig ${kubeconfigLine} exists`);
    const daemons = childrenOf(cli.child.pid as number).filter((p) => p.argv[0]?.endsWith("etcd"));
    assert.ok(daemons.length >= 3, `the demo's etcd members run: ${daemons.map((d) => d.argv[0])}`);
    const dirs = daemons.flatMap((d) =>
      d.argv.filter((a) => a.startsWith("--data-dir=")).map((a) => a.slice("--data-dir=".length)),
    );

    // The printed backup command, run as printed (a shell line) with the real CLI.
    const backupLine = cli
      .stdout()
      .split("\n")
      .find((l) => / backup example -n clusters --kubeconfig /.test(l));
    assert.ok(backupLine, `a backup command is printed:\n${cli.stdout()}`);
    const backup = await run("bash", ["-c", backupLine.trim()]);
    assert.match(backup.stdout, /^backup \S+ of clusters\/example stored and verified\n/);
    const listLine = cli
      .stdout()
      .split("\n")
      .find((l) => / list --from /.test(l)) as string;
    const list = await run("bash", ["-c", listLine.trim()]);
    assert.equal(
      list.stdout.match(/^\S+\/clusters\/example\/\S+ /gm)?.length,
      2,
      `two backups listed:\n${list.stdout}`,
    );

    cli.child.kill("SIGINT");
    const exit = await cli.exited;
    assert.equal(exit.code, 130, cli.stderr());
    assert.match(cli.stdout(), /stopped the local etcd and the simulated cluster, removed their files\n$/);
    for (const d of daemons) assert.equal(alive(d.pid), false, `etcd ${d.pid} is gone`);
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} is removed`);
    assert.equal(existsSync(kubeconfigLine), false, "the demo's temp directory is removed");
    assert.doesNotMatch(cli.stderr(), /error|failed/i);
  } finally {
    // SIGINT, not SIGKILL: the CLI's own cleanup is what stops the etcd members it started.
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill("SIGINT");
      await cli.exited;
    }
  }
});
