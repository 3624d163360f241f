// What a new user hits first, run through the built command with no daemon: help, path mistakes,
// an unreachable endpoint, a damaged file, option help.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";

const FIXTURE = new URL("../fixtures/bbolt-page-sizes/db_4096_fl.db", import.meta.url).pathname;
// Port 1 on loopback: nothing listens there, the connection is refused at once.
const UNREACHABLE = ["--endpoints", "https://127.0.0.1:1"];

function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(stderr, /unexpected error|please report|\n\s+at /);
}

describe("CLI edges (built binary, no daemon)", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
  });
  after(async () => {
    if (work) {
      execFileSync("sh", ["-c", `umount ${join(work, "ro")} 2>/dev/null || true`]);
      await rm(work, { recursive: true, force: true });
    }
  });

  describe("help", () => {
    it("prints the help, on stderr with exit 2, when the command or the subcommand is missing", async () => {
      const top = await runCli([]);
      assert.equal(top.code, 2);
      assert.match(top.stderr, /^Usage: hcp-etcd-backup \[options\] \[command\]/);
      assert.match(top.stderr, /\n {2}snapshot\b[\s\S]*\n {2}backup\b/);
      assert.doesNotMatch(top.stderr, /outputHelp/);
      const sub = await runCli(["snapshot"]);
      assert.equal(sub.code, 2);
      assert.match(sub.stderr, /^Usage: hcp-etcd-backup snapshot \[options\] \[command\]/);
      assert.match(sub.stderr, /\n {2}save \[options\] <file>/);
      assert.doesNotMatch(sub.stderr, /outputHelp/);
    });

    it("prints the help on stdout with exit 0 for `help` and --help", async () => {
      for (const args of [["help"], ["help", "snapshot"], ["snapshot", "--help"]]) {
        const r = await runCli(args);
        assert.equal(r.code, 0, args.join(" "));
        assert.match(r.stdout, /^Usage: hcp-etcd-backup/, args.join(" "));
        assert.equal(r.stderr, "");
      }
    });

    it("offers upload options only to the commands that write (backup, verify), with --s3-timeout's default as a number", async () => {
      const upload = /--sse\b|--sse-kms-key-id|--s3-checksums/;
      for (const cmd of ["list", "verify", "prune"]) {
        const r = await runCli([cmd, "--help"]);
        assert.equal(r.code, 0);
        assert.match(r.stdout, /--s3-endpoint/, cmd);
        // verify writes the manifest back with its result: a bucket policy demanding SSE applies to it too.
        if (cmd === "verify") assert.match(r.stdout, upload, cmd);
        else assert.doesNotMatch(r.stdout, upload, cmd);
        assert.match(r.stdout, /--s3-timeout <seconds>[\s\S]*?\(default: 60\)/, cmd);
      }
      const backup = await runCli(["backup", "--help"]);
      assert.match(backup.stdout, /--sse <type>/);
      assert.match(backup.stdout, /--sse-kms-key-id/);
      assert.match(backup.stdout, /--s3-checksums/);
      assert.doesNotMatch(backup.stdout, /\(default: "60"\)/);
      // backup has two forms: each option says which form requires it, not a bare "(required)".
      const required: Array<[string, RegExp]> = [
        ["--endpoints <urls>", /required for plain etcd \(with --name\); with <hosted-cluster>, reach/],
        ["--to <store-url>", /\(required in every form\)/],
        ["--name <label>", /^--name <label> plain etcd \(with --endpoints\): .*\(required there\)/],
        ["-n, --namespace <namespace>", /required with <hosted-cluster> and with --all unless -A; not for plain etcd/],
      ];
      for (const [opt, says] of required) {
        const at = backup.stdout.indexOf(opt);
        assert.ok(at >= 0, opt);
        // The option's description runs until the next option line.
        const text = (backup.stdout.slice(at).split(/\n {2}-/)[0] ?? "").replace(/\s+/g, " ");
        assert.match(text, says, opt);
        assert.doesNotMatch(text, /\(required\)/, opt);
      }
      // snapshot save has one form and one member: no "plain etcd" there.
      const save = (await runCli(["snapshot", "save", "--help"])).stdout.replace(/\s+/g, " ");
      assert.match(
        save,
        /--endpoints <urls> the etcd member to snapshot: one client URL, e\.g\. https:\/\/host:2379 \(required\)/,
      );
      assert.doesNotMatch(save, /plain etcd/);
    });

    it("keeps its own one-line messages for a missing --to or an invalid --s3-timeout (exit 2)", async () => {
      const noTo = await runCli(["backup", ...UNREACHABLE, "--name", "x"]);
      assert.equal(noTo.code, 2);
      oneLine(noTo.stderr, /^hcp-etcd-backup: missing --to: /);
      const badTimeout = await runCli(["list", "--from", work, "--s3-timeout", "0"]);
      assert.equal(badTimeout.code, 2);
      oneLine(badTimeout.stderr, /--s3-timeout must be a positive number of seconds, got "0"/);
    });
  });

  describe("backup's two forms refuse each other's flags", () => {
    it("a plain backup refuses hosted-only flags (a --dry-run it ignored would take a real backup)", async () => {
      for (const extra of [["--dry-run"], ["--key-recipient", "age1x"], ["--mode", "online"], ["--kubeconfig", "/k"]]) {
        const r = await runCli(["backup", ...UNREACHABLE, "--to", "/tmp/hcpeb-never", "--name", "t", ...extra]);
        assert.equal(r.code, 2, `${extra[0]}: ${r.stderr}`);
        oneLine(r.stderr, new RegExp(`${extra[0]}: these apply to a hosted cluster's backup only`));
      }
      const ns = await runCli(["backup", "-n", "clusters", ...UNREACHABLE, "--to", "/tmp/hcpeb-never"]);
      assert.equal(ns.code, 2);
      oneLine(
        ns.stderr,
        /-n\/--namespace without a hosted cluster: name it, as in backup <hosted-cluster> -n <namespace>/,
      );
    });

    it("--continuous: its flags need it, it is online, and it follows one etcd (not --all)", async () => {
      const hosted = ["backup", "example", "-n", "clusters", "--to", "/tmp/hcpeb-never", "--no-key"];
      const cases: Array<[string[], RegExp]> = [
        [[...hosted, "--full-every", "6h"], /--segment, --segment-max and --full-every go with --continuous/],
        [[...hosted, "--continuous", "--mode", "quiesced"], /--continuous is online .*: drop --mode quiesced/],
        [[...hosted, "--continuous", "--dry-run"], /--dry-run does not go with --continuous/],
        [
          ["backup", "--all", "-n", "clusters", "--to", "/tmp/hcpeb-never", "--continuous"],
          /--continuous: a continuous backup follows one etcd/,
        ],
        [
          ["backup", ...UNREACHABLE, "--to", "/tmp/hcpeb-never", "--name", "t", "--continuous", "--full-every", "0s"],
          /--full-every must be between 1s and 30d, got "0s"/,
        ],
      ];
      for (const [args, message] of cases) {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        oneLine(r.stderr, message);
      }
    });

    it("a hosted cluster's backup refuses the plain form's etcd flags", async () => {
      const r = await runCli([
        "backup",
        "example",
        "-n",
        "clusters",
        "--to",
        "/tmp/hcpeb-never",
        "--name",
        "x",
        "--cacert",
        "/c",
      ]);
      assert.equal(r.code, 2);
      oneLine(
        r.stderr,
        /--name, --cacert: a hosted cluster's backup takes etcd's TLS and credentials from the cluster/,
      );
    });

    it("credentials inside an endpoint URL are never echoed", async () => {
      const r = await runCli([
        "backup",
        "--endpoints",
        "https://user:SECRETPW@127.0.0.1:1",
        "--to",
        "/tmp/hcpeb-never",
        "--name",
        "t",
      ]);
      assert.equal(r.code, 1);
      assert.ok(!r.stderr.includes("SECRETPW"), r.stderr);
      assert.match(r.stderr, /https:\/\/\*\*\*@127\.0\.0\.1:1/);
    });
  });

  describe("snapshot files that cannot be read", () => {
    it("says the same thing in every snapshot command: a missing file", async () => {
      const missing = join(work, "no-such.db");
      for (const args of [["status"], ["verify"], ["keys"], ["diff", missing]]) {
        const r = await runCli(["snapshot", ...args, missing]);
        assert.equal(r.code, args[0] === "diff" ? 2 : 1, args.join(" "));
        oneLine(
          r.stderr,
          new RegExp(`^hcp-etcd-backup: cannot read snapshot file ${missing}: no such file or directory$`),
        );
      }
    });

    it("says the same thing in every snapshot command: a directory", async () => {
      for (const args of [["status"], ["verify"], ["keys"], ["diff", work]]) {
        const r = await runCli(["snapshot", ...args, work]);
        assert.equal(r.code, args[0] === "diff" ? 2 : 1, args.join(" "));
        oneLine(r.stderr, new RegExp(`^hcp-etcd-backup: cannot read snapshot file ${work}: is a directory$`));
      }
    });
  });

  describe("snapshot verify of a truncated file", () => {
    it("shows as unknown, never as 0, what the partial walk could not count (text and JSON)", async () => {
      const file = join(work, "truncated.db");
      await copyFile(FIXTURE, file);
      await truncate(file, 100_000);
      const text = await runCli(["snapshot", "verify", "--no-etcd-checks", file]);
      assert.equal(text.code, 3);
      assert.match(text.stdout, /\[truncated\]/);
      assert.match(text.stdout, /189 pages \(pages in use and free unknown/);
      assert.match(text.stdout, /revision, total keys and status hash unknown/);
      assert.doesNotMatch(text.stdout, /\b0 keys|revision 0|status hash 0\b|in use, \d+ free/);
      const json = await runCli(["snapshot", "verify", "--no-etcd-checks", "-o", "json", file]);
      assert.equal(json.code, 3);
      const report = JSON.parse(json.stdout) as Record<string, unknown>;
      assert.equal(report.ok, false);
      assert.equal(report.pages, 189);
      for (const unknown of ["status", "reachablePages", "freePages"])
        assert.equal(unknown in report, false, `${unknown}: ${JSON.stringify(report[unknown])}`);
    });

    it("still gives every figure for an intact file", async () => {
      const r = await runCli(["snapshot", "verify", "--no-etcd-checks", "-o", "json", FIXTURE]);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as {
        reachablePages: number;
        freePages: number;
        status: { revision: number };
      };
      assert.equal(report.reachablePages + report.freePages, 189);
      assert.ok(report.status.revision > 0);
    });
  });

  describe("snapshot save: the destination is checked before etcd is contacted", () => {
    async function save(file: string) {
      return runCli(["snapshot", "save", file, ...UNREACHABLE]);
    }

    it("refuses a directory", async () => {
      const r = await save(work);
      assert.equal(r.code, 1);
      oneLine(r.stderr, new RegExp(`^hcp-etcd-backup: cannot write snapshot file ${work}: is a directory$`));
    });

    it("refuses a missing folder and does not create it", async () => {
      const file = join(work, "no-such-dir", "x.db");
      const r = await save(file);
      assert.equal(r.code, 1);
      oneLine(
        r.stderr,
        /cannot write snapshot file .*\/no-such-dir\/x\.db: the directory .*\/no-such-dir does not exist$/,
      );
      assert.equal(existsSync(join(work, "no-such-dir")), false);
    });

    it("refuses a path under a file", async () => {
      const plain = join(work, "plain-file");
      await writeFile(plain, "x");
      const r = await save(join(plain, "x.db"));
      assert.equal(r.code, 1);
      oneLine(r.stderr, new RegExp(`cannot write snapshot file ${plain}/x\\.db: ${plain} is not a directory$`));
    });

    it("refuses a folder where the .part cannot be created (a directory of that name)", async () => {
      const dir = join(work, "blocked");
      await mkdir(join(dir, "x.db.part"), { recursive: true });
      const r = await save(join(dir, "x.db"));
      assert.equal(r.code, 1);
      oneLine(r.stderr, /cannot write snapshot file .*\/blocked\/x\.db: .*x\.db\.part is a directory$/);
    });

    it("refuses a read-only file system", async (t) => {
      const ro = join(work, "ro");
      await mkdir(ro);
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], { stdio: "ignore" });
      } catch {
        t.skip("needs root to mount a read-only tmpfs");
        return;
      }
      const r = await save(join(ro, "x.db"));
      assert.equal(r.code, 1);
      oneLine(
        r.stderr,
        /cannot write snapshot file .*\/ro\/x\.db: cannot create x\.db\.part there: read-only file system$/,
      );
    });

    it("with a good destination, names the unreachable endpoint in words and leaves nothing", async () => {
      const dir = join(work, "good");
      await mkdir(dir);
      const r = await save(join(dir, "x.db"));
      assert.equal(r.code, 1);
      oneLine(r.stderr, /cannot reach etcd at https:\/\/127\.0\.0\.1:1: connection refused$/);
      assert.doesNotMatch(r.stderr, /Resolution note|Last error|ECONNREFUSED/);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("demo refuses a count that is not one before it starts anything (exit 2, one line)", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--data-mib", "abc"], /^hcp-etcd-backup: --data-mib must be a whole number from 1 to \d+, got "abc"$/],
      [["--data-mib", "-1"], /--data-mib must be a whole number from 1 to \d+, got "-1"$/],
      [["--data-mib", "0"], /--data-mib must be .*, got "0"$/],
      [["--data-mib", "2.5"], /--data-mib must be .*, got "2.5"$/],
      [["--members", "0"], /^hcp-etcd-backup: --members must be a whole number from 1 to 9, got "0"$/],
      [["--members", "10"], /--members must be .*, got "10"$/],
      [["--members", "three"], /--members must be .*, got "three"$/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(["demo", ...flags]);
      assert.equal(r.code, 2, `demo ${flags.join(" ")}: ${r.stdout}${r.stderr}`);
      oneLine(r.stderr, message);
      assert.equal(r.stdout, "", "nothing started: not even the first step's line");
    }
  });

  it("list --fleet on an empty store says so once, on stderr, and fails (a probe must not stay green)", async () => {
    const store = join(work, "empty-store");
    await mkdir(store);
    const r = await runCli(["list", "--fleet", "--from", store]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    oneLine(r.stderr, /^hcp-etcd-backup: no backups in .*empty-store: check --from \(bucket and prefix\)$/);
  });

  it("verify of a folder with no backup says a backup ref is needed (exit 2)", async () => {
    const store = join(work, "not-a-backup");
    await mkdir(store);
    const r = await runCli(["verify", store]);
    assert.equal(r.code, 2);
    oneLine(
      r.stderr,
      /is not a backup \(it has no manifest\.json\): pass a backup's ref, as `hcp-etcd-backup list --from <store>` prints them$/,
    );
  });

  it("prune says what it removed in words true of a local store", async () => {
    const store = join(work, "store");
    await mkdir(store);
    const r = await runCli(["prune", "--from", store, "--keep-last", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removed 0 unfinished upload\(s\)$/m);
    assert.doesNotMatch(r.stdout, /aborted/);
  });
});
