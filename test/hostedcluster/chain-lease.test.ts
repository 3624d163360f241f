import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { V1MicroTime } from "@kubernetes/client-node";
import { CHAIN_LEASE_NAME, ChainLeaseHeldError, takeChainLease } from "../../src/continuous/chain-lease.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { waitFor } from "../support/wait.js";

const NS = "clusters-example";

/** The Lease that makes one process the writer of a chain, against the simulator's API (resourceVersion enforced). */
describe("the continuous backup's chain Lease", () => {
  let lab: HostedLab;

  before(async () => {
    lab = await startHostedLab({ dataBytes: 64 * 1024, etcd: { members: 1 } });
  });
  after(async () => {
    await lab?.stop();
  });

  const take = (holder: string, name: string, durationSeconds = 30) =>
    takeChainLease({ cluster: lab.api, namespace: NS, name, holder, durationSeconds });

  it("of two processes taking it at the same instant, exactly one wins; the other refuses in one line naming the holder", async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const results = await Promise.allSettled([take("pod-a/1", name), take("pod-b/2", name)]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results.map((r) => r.status))}`);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof take>>>).value;
      const err = (lost[0] as PromiseRejectedResult).reason as Error;
      assert.ok(err instanceof ChainLeaseHeldError, String(err));
      assert.match(err.message, new RegExp(`Lease ${NS}/${name} is held by ${winner.holder.replace("/", "\\/")} `));
      assert.doesNotMatch(err.message, /\n/);
      await winner.release();
    }
  });

  it("the holder renews it; released, the next process takes it at once", async () => {
    const a = await take("pod-a/1", CHAIN_LEASE_NAME, 3);
    const first = await lab.api.readLease(NS, CHAIN_LEASE_NAME);
    const firstRenew = new Date(first?.spec?.renewTime ?? 0).getTime();
    // Renewed every second (a third of 3 s): the stored renewTime moves on.
    await waitFor("a renewal", async () => {
      const now = await lab.api.readLease(NS, CHAIN_LEASE_NAME);
      return new Date(now?.spec?.renewTime ?? 0).getTime() > firstRenew ? now : undefined;
    });
    await assert.rejects(take("pod-b/2", CHAIN_LEASE_NAME, 3), /is held by pod-a\/1 /);
    assert.equal(a.lost.aborted, false);
    await a.release();
    const b = await take("pod-b/2", CHAIN_LEASE_NAME, 3);
    const stored = await lab.api.readLease(NS, CHAIN_LEASE_NAME);
    assert.equal(stored?.spec?.holderIdentity, "pod-b/2");
    await b.release();
  });

  it("a holder that stopped renewing is taken over after the Lease's duration; the holder that lost it is told", async () => {
    const name = "stale";
    const stale = new V1MicroTime(Date.now() - 60_000);
    await lab.api.createLease(NS, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, namespace: NS },
      spec: {
        holderIdentity: "dead-pod/7",
        leaseDurationSeconds: 30,
        renewTime: stale,
        acquireTime: stale,
        leaseTransitions: 0,
      },
    });
    const a = await take("pod-a/1", name, 3);
    const taken = await lab.api.readLease(NS, name);
    assert.equal(taken?.spec?.holderIdentity, "pod-a/1");
    assert.equal(taken?.spec?.leaseTransitions, 1);
    // Someone else writes it (as a successor would after a partition): a's next renewal loses the swap.
    await lab.api.replaceLease(NS, { ...(taken as object), spec: { ...taken?.spec, holderIdentity: "pod-c/9" } });
    await waitFor("a to learn it lost the Lease", () => (a.lost.aborted ? true : undefined));
    assert.match(String((a.lost.reason as Error).message), /is held by pod-c\/9 /);
    await a.release();
    assert.equal(
      (await lab.api.readLease(NS, name))?.spec?.holderIdentity,
      "pod-c/9",
      "a lost holder does not clear it",
    );
  });
});
