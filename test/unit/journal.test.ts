import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import {
  isLockFresh,
  type Journal,
  parseJournal,
  runningHolder,
  serializeJournal,
} from "../../src/hostedcluster/journal.js";

const journal: Journal = {
  version: 1,
  runId: "20261130T120000Z-4f2a",
  holder: { user: "sre", host: "laptop", pid: 4242 },
  startedAt: "2026-11-30T12:00:00.000Z",
  lockExpiresAt: "2026-11-30T12:35:00.000Z",
  mode: "quiesced",
  original: {
    pausedUntil: null,
    writers: [{ namespace: "clusters-example", name: "kube-apiserver", replicas: 3 }],
  },
  changed: { pausedUntil: "2026-11-30T12:30:00Z", scaledWriters: ["kube-apiserver"] },
};

describe("the journal annotation", () => {
  it("round-trips, keeping an absent pausedUntil as null (not a string)", () => {
    const text = serializeJournal(journal);
    assert.match(text, /"pausedUntil":null/);
    assert.deepEqual(parseJournal(text, "clusters/example"), journal);
  });

  it("refuses a value this tool did not write, with a one-line reason", () => {
    assert.throws(() => parseJournal("{", "clusters/example"), UsageError);
    assert.throws(
      () =>
        parseJournal(JSON.stringify({ ...journal, original: { pausedUntil: "", writers: "x" } }), "clusters/example"),
      /not a journal this tool wrote \(original\.writers/,
    );
  });

  it("is a lock until its expiry", () => {
    assert.equal(isLockFresh(journal, new Date("2026-11-30T12:34:59Z")), true);
    assert.equal(isLockFresh(journal, new Date("2026-11-30T12:35:00Z")), false);
  });

  it("resume waits for a backup that may still run: alive on this host, or a fresh lock held elsewhere", () => {
    const during = new Date("2026-11-30T12:10:00Z");
    const after = new Date("2026-11-30T12:40:00Z");
    const alive = { host: "laptop", isAlive: () => true };
    const dead = { host: "laptop", isAlive: () => false };
    const elsewhere = { host: "bastion", isAlive: () => false };
    assert.match(runningHolder(journal, during, alive) ?? "", /pid 4242\) is still running on this host/);
    assert.equal(runningHolder(journal, during, dead), undefined, "killed on this host: resume at once");
    assert.match(runningHolder(journal, during, elsewhere) ?? "", /holds the lock until 2026-11-30T12:35:00.000Z/);
    assert.equal(runningHolder(journal, after, alive), undefined, "an expired lock never holds resume back");
  });
});
