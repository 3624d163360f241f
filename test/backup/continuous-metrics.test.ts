import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readChain } from "../../src/continuous/chain.js";
import { coveredUntil, type SegmentRecord } from "../../src/continuous/segment.js";
import type { EtcdClient } from "../../src/etcd/client.js";
import { readCatalog } from "../../src/store/catalog.js";
import { openStore } from "../../src/store/open-store.js";
import { type RunningCli, runCli, spawnCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { PushgatewayServer, sampleValue } from "../support/pushgateway.js";
import { waitFor } from "../support/wait.js";

const seconds = (iso: string) => Date.parse(iso) / 1000;

function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(text);
  });
}

describe("continuous backup of a real etcd: metrics as segments commit, list window and fleet RPO", () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  let gateway: PushgatewayServer;
  let work: string;
  let store: string;
  let textfile: string;
  let run: RunningCli | undefined;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    client = await etcd.client(0);
    gateway = await PushgatewayServer.start();
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    store = join(work, "store");
    await mkdir(store);
    textfile = join(work, "continuous.prom");
  });
  after(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    await run?.exited;
    client?.close();
    await gateway?.stop();
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const newestRecord = async (): Promise<{ record: SegmentRecord; ref: string } | undefined> => {
    const s = openStore(store);
    const [b] = (await readCatalog(s, { label: "pitr" })).backups;
    if (!b) return undefined;
    const record = (await readChain(s, b.folder, b.manifest.snapshot.revision)).records.at(-1);
    return record ? { record, ref: b.ref } : undefined;
  };
  const series = (text: string, name: string) =>
    sampleValue(text, `hcp_etcd_backup_${name}`, { cluster: "pitr", store });

  it("each committed segment's revision and close time reach the textfile and the Pushgateway; after SIGTERM the textfile holds the last one", async () => {
    run = spawnCli([
      "backup",
      "--endpoints",
      etcd.endpoints.join(","),
      ...etcd.tlsFlags,
      "--to",
      store,
      "--name",
      "pitr",
      "--continuous",
      "--segment",
      "1s",
      "--pushgateway",
      gateway.url,
      "--metrics-file",
      textfile,
    ]);
    // Written after the full backup: each write then lands in a segment, none in the snapshot.
    await waitFor("the full backup", () => (/^full backup /m.test(run?.stdout() ?? "") ? true : undefined), 30_000);
    let last = 0;
    for (let i = 0; i < 20; i++) last = await client.put(`m/k${i % 4}`, `v${i}`);
    // The metrics follow the store: wait until a segment holding the last write is published.
    const text = await waitFor(
      `the textfile to report revision ${last}`,
      async () => {
        const t = await readFile(textfile, "utf8").catch(() => "");
        return (series(t, "continuous_last_revision") ?? 0) >= last ? t : undefined;
      },
      30_000,
    );
    const newest = await newestRecord();
    assert.ok(newest, "a committed segment");
    // Nothing was written after `last`: the newest segment ends there and the textfile says so.
    assert.equal(newest.record.toRevision, last);
    assert.equal(series(text, "continuous_last_revision"), last);
    // Idle since: the follower may have extended the record's coverage between the two reads.
    const within = (t: number | undefined, record: SegmentRecord) =>
      t !== undefined && t >= seconds(record.closedAt) && t <= seconds(coveredUntil(record));
    const reported = series(text, "continuous_last_commit_timestamp_seconds");
    assert.ok(
      within(reported, newest.record),
      `timestamp ${reported} within the record's ${JSON.stringify(newest.record)}`,
    );
    const lag = series(text, "continuous_segment_lag_seconds") ?? -1;
    assert.equal(lag, seconds(newest.record.closedAt) - seconds(newest.record.firstEventAt ?? ""));
    assert.ok(lag >= 0);
    assert.ok(series(text, "last_success_timestamp_seconds"), "the full backup it started from is reported too");
    const checked = await promtoolCheckMetrics(text);
    assert.equal(checked.code, 0, checked.output);
    const scraped = await waitFor(
      "the Pushgateway to hold the same revision",
      async () => {
        const t = await gateway.scrape();
        return series(t, "continuous_last_revision") === last ? t : undefined;
      },
      10_000,
    );
    const pushed = series(scraped, "continuous_last_commit_timestamp_seconds");
    const newer = (await newestRecord())?.record ?? newest.record;
    assert.ok(within(pushed, newer), `pushed timestamp ${pushed} within the record's ${JSON.stringify(newer)}`);

    // A change the follower likely holds in its open segment at the stop (whether it has received it
    // yet is etcd's timing): whatever SIGTERM committed last is what the textfile says after the exit.
    const held = await client.put("m/last", "at the stop");
    run.child.kill("SIGTERM");
    const { code } = await run.exited;
    assert.equal(code, 143, run.stderr());
    const final = await newestRecord();
    assert.ok(final && final.record.toRevision >= last && final.record.toRevision <= held);
    const after = await readFile(textfile, "utf8");
    assert.equal(series(after, "continuous_last_revision"), final.record.toRevision);
    assert.equal(series(after, "continuous_last_commit_timestamp_seconds"), seconds(coveredUntil(final.record)));
  });

  it("list and list --fleet read the same chain: its window ends at the newest segment, the RPO is its age", async () => {
    const final = await newestRecord();
    assert.ok(final);
    const listed = await runCli(["list", "--from", store, "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const [row] = JSON.parse(listed.stdout) as Array<{
      revision: number;
      chain: { fromRevision: number; toRevision: number; toTime: string; problems: string[] };
    }>;
    assert.equal(row?.chain.fromRevision, row?.revision);
    assert.equal(row?.chain.toRevision, final.record.toRevision);
    assert.equal(row?.chain.toTime, coveredUntil(final.record));
    assert.deepEqual(row?.chain.problems, []);
    const fleet = await runCli(["list", "--fleet", "--from", store, "-o", "json"]);
    assert.equal(fleet.code, 0, fleet.stderr);
    const [cluster] = JSON.parse(fleet.stdout) as Array<{ rpo: { at: string; revision: number; from: string } }>;
    assert.deepEqual(
      { at: cluster?.rpo.at, revision: cluster?.rpo.revision, from: cluster?.rpo.from },
      { at: coveredUntil(final.record), revision: final.record.toRevision, from: "segment" },
    );
  });
});
