// `schedule` as a user runs it (the built CLI, `make build` first): the YAML it prints is pinned by
// golden files (UPDATE_GOLDEN=1 rewrites them), passes the Kubernetes schemas, and bad input is one line.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import { runCli } from "../support/cli.js";
import { validateAgainstSchema } from "../support/kube-schema.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/schedule/", import.meta.url));
const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const COMMON = [
  "--to",
  "s3://backups/hcp",
  "--cron",
  "0 */6 * * *",
  "--key-recipient",
  RECIPIENT,
  "--image",
  "registry.example/hcp-etcd-backup:test",
];
const ROLE = "arn:aws:iam::123456789012:role/hcp-etcd-backup";

const CASES: Record<string, string[]> = {
  "single-secret": ["schedule", "example", "-n", "clusters", ...COMMON, "--credentials-secret", "s3-creds"],
  "single-irsa": ["schedule", "example", "-n", "clusters", ...COMMON, "--role-arn", ROLE, "--s3-region", "eu-west-1"],
  "all-namespace": [
    "schedule",
    "--all",
    "-n",
    "clusters",
    "--clusters",
    "clusters/example,clusters/other",
    ...COMMON,
    "--credentials-secret",
    "s3-creds",
  ],
  "single-continuous": [
    "schedule",
    "example",
    "-n",
    "clusters",
    "--continuous",
    "--full-every",
    "6h",
    ...COMMON.filter((a, i) => a !== "--cron" && COMMON[i - 1] !== "--cron"),
    "--credentials-secret",
    "s3-creds",
  ],
  "all-namespaces": [
    "schedule",
    "--all",
    "--all-namespaces",
    "--job-namespace",
    "hcp-etcd-backup",
    "--clusters",
    "clusters/example,team-b/db",
    ...COMMON,
    "--role-arn",
    ROLE,
    "--cron",
    "30 1 * * *",
    "--time-zone",
    "Europe/Berlin",
  ],
};

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; rules?: Array<Record<string, string[]>> };

describe("schedule renders the manifests (built CLI)", () => {
  for (const [name, args] of Object.entries(CASES)) {
    it(`${name}: matches test/fixtures/schedule/${name}.yaml, every document passes the schema, no RBAC wildcard`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      // Offline renders guess the key Secrets' names, and say so in one line.
      assert.match(r.stderr, /warn\s+key Secret names assumed as HyperShift's CLI names them .*pass --key-secret/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      const file = join(GOLDEN, `${name}.yaml`);
      if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, r.stdout);
      assert.equal(r.stdout, readFileSync(file, "utf8"));
      const docs = yaml.loadAll(r.stdout) as Doc[];
      // A continuous backup runs in a Deployment beside its Lease; every other schedule in a CronJob.
      const continuous = args.includes("--continuous");
      assert.equal(
        docs.some((d) => d.kind === "CronJob"),
        !continuous,
      );
      assert.equal(
        docs.some((d) => d.kind === "Deployment"),
        continuous,
      );
      assert.equal(
        docs.some((d) => d.kind === "Lease"),
        continuous,
      );
      for (const d of docs) validateAgainstSchema(d);
      for (const rule of docs.flatMap((d) => d.rules ?? []))
        for (const v of Object.values(rule).flat()) assert.ok(!v.includes("*"), `wildcard in ${d(rule)}`);
    });
  }

  it("the default image is the release's, tagged with the tool's version", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    const r = await runCli([
      "schedule",
      "example",
      "-n",
      "clusters",
      "--to",
      "s3://backups/p",
      "--cron",
      "@daily",
      "--no-key",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`image: ghcr\\.io/hcp-etcd-backup/hcp-etcd-backup:${pkg.version.replaceAll(".", "\\.")}\\n`),
    );
    // Nobody can pull it until a release publishes it: the render says so, and how to pass another.
    assert.match(r.stderr, /warn\s+--image: the default ghcr\.io\S+ is not published yet; .*pass --image /);
  });

  it("refuses a schedule that never fires (exit 2, one line) and warns about one that fires rarely", async () => {
    const base = ["schedule", "example", "-n", "clusters", "--to", "s3://backups/p", "--no-key", "--image", "r/i:1"];
    for (const cron of ["0 0 31 2 *", "0 0 30 2 *"]) {
      const r = await runCli([...base, "--cron", cron]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^hcp-etcd-backup: --cron "0 0 3[01] 2 \*" never fires: /);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const rare = await runCli([...base, "--cron", "0 0 29 2 *"]);
    assert.equal(rare.code, 0, rare.stderr);
    assert.match(rare.stdout, /schedule: '?0 0 29 2 \*'?\n/);
    assert.match(rare.stderr, /warn\s+--cron "0 0 29 2 \*" fires rarely: up to 8 years pass between two backups/);
    const daily = await runCli([...base, "--cron", "0 3 * * *"]);
    assert.doesNotMatch(daily.stderr, /fires rarely|--image/);
  });

  it("bad input is one line on stderr and exit 2, and an age identity given as recipient is never echoed", async () => {
    const identity = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    const base = ["schedule", "example", "-n", "clusters", "--to", "s3://backups/p"];
    const cases: Array<[string[], RegExp]> = [
      [[...base, "--cron", "0 */6 * *", "--no-key"], /--cron "0 \*\/6 \* \*" has 4 field\(s\); a schedule has 5/],
      [[...base, "--cron", "61 * * * *", "--no-key"], /the minute field "61" must be 0-59/],
      [[...base, "--no-key"], /missing --cron/],
      [[...base, "--cron", "@daily"], /--key-recipient age1/],
      [[...base, "--cron", "@daily", "--key-recipient", identity], /age identity/],
      [
        [...base, "--cron", "@daily", "--no-key", "--credentials-secret", "s", "--role-arn", ROLE],
        /choose one of --credentials-secret and --role-arn/,
      ],
      [[...base, "--cron", "@daily", "--no-key", "--role-arn", "role/x"], /not an IAM role ARN/],
      [["schedule", "--all", "--to", "s3://backups/p", "--cron", "@daily", "--no-key"], /--all needs -n/],
      [
        ["schedule", "--all", "-A", "--to", "s3://backups/p", "--cron", "@daily", "--no-key"],
        /missing --job-namespace/,
      ],
      [["schedule", "example", "--to", "s3://backups/p", "--cron", "@daily", "--no-key"], /missing -n\/--namespace/],
      [[...base, "--cron", "@daily", "--no-key", "--name", "Bad_Name"], /--name "Bad_Name"/],
      // A continuous backup is a Deployment of one hosted cluster's chain writer: no cron, no --all.
      [[...base, "--continuous", "--cron", "@daily", "--no-key"], /--cron: a continuous backup runs all the time/],
      [
        ["schedule", "--all", "-n", "clusters", "--to", "s3://backups/p", "--continuous", "--no-key"],
        /--continuous follows one hosted cluster .*: name it instead of --all/,
      ],
      [
        [...base, "--cron", "@daily", "--no-key", "--full-every", "6h"],
        /--segment and --full-every go with --continuous/,
      ],
      [[...base, "--continuous", "--no-key", "--full-every", "6"], /--full-every must be a duration like 6h or 1d/],
      [[...base, "--continuous", "--no-key", "--segment", "2h"], /--segment must be between 1s and 1h/],
      [[...base, "--cron", "@daily", "--no-key", "--time-zone", "Mars/Olympus"], /--time-zone "Mars\/Olympus"/],
      [
        [...base, "--cron", "@daily", "--no-key", "--credentials-secret", "S3 Creds"],
        /--credentials-secret "S3 Creds"/,
      ],
      // Every night's backup would go into an emptyDir deleted with its pod.
      [
        ["schedule", "example", "-n", "clusters", "--to", "/var/backups", "--cron", "@daily", "--no-key"],
        /--to \/var\/backups: a scheduled backup needs an s3:\/\/ store; .* \(file:\/\/\/var\/backups if you mount a volume there yourself\)/,
      ],
      // A secret in the Pushgateway URL would sit in clear in the CronJob (and is not echoed here).
      [
        [...base, "--cron", "@daily", "--no-key", "--pushgateway", "http://ops:hunter2@pg:9091"],
        /--pushgateway http:\/\/\*\*\*@pg:9091: credentials in the URL would be stored in clear/,
      ],
      [
        [...base, "--cron", "@daily", "--no-key", "--pushgateway", "http://pg:9091/?token=hunter2"],
        /credentials in the URL would be stored in clear/,
      ],
      [[...base, "--cron", "@daily", "--no-key", "--pushgateway", "ftp://pg"], /must be an http\(s\) URL/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(!r.stderr.includes(identity.slice(16)), "the identity is not echoed");
      assert.ok(!r.stderr.includes("hunter2"), "a password is not echoed");
    }
  });
});

function d(v: unknown): string {
  return JSON.stringify(v);
}
