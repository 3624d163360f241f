import { hostname } from "node:os";
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { CancelledError, describe, OperationError } from "../errors.js";
import { KubeConflictError, type ManagementCluster } from "../hostedcluster/kube.js";
import { CHAIN_LEASE_NAME } from "../hostedcluster/names.js";
import { type Logger, silentLogger } from "../logging.js";

export { CHAIN_LEASE_NAME };

export interface ChainLeaseOptions {
  readonly cluster: ManagementCluster;
  readonly namespace: string;
  readonly name?: string;
  /** Who holds it: the pod's name (its hostname) and the process, unless given. */
  readonly holder?: string;
  /** How long a holder that stopped renewing keeps it (default 30 s); renewed every third of that. */
  readonly durationSeconds?: number;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** Another process holds the Lease: it writes this chain. */
export class ChainLeaseHeldError extends OperationError {}

export interface HeldChainLease {
  readonly holder: string;
  /** Aborted when the Lease is lost (taken over, or not renewable for its whole duration): stop writing. */
  readonly lost: AbortSignal;
  /** Stops renewing and gives the Lease up (holder cleared) so that a successor takes it at once. */
  release(): Promise<void>;
}

/**
 * Takes the coordination.k8s.io Lease that makes one process the writer of a chain, and keeps it
 * renewed. Every write carries the resourceVersion just read (compare-and-swap), as the hosted
 * cluster's backup lock does: of two processes racing, one wins and the other refuses in one line
 * naming the holder. A Lease whose holder stopped renewing for its duration is taken over.
 */
export async function takeChainLease(options: ChainLeaseOptions): Promise<HeldChainLease> {
  const { cluster, namespace, signal } = options;
  const name = options.name ?? CHAIN_LEASE_NAME;
  const holder = options.holder ?? `${hostname()}/${process.pid}`;
  const duration = options.durationSeconds ?? 30;
  const log = options.logger ?? silentLogger();
  const spec = (previous?: V1Lease) => {
    const now = new V1MicroTime(Date.now());
    const same = previous?.spec?.holderIdentity === holder;
    return {
      holderIdentity: holder,
      leaseDurationSeconds: duration,
      acquireTime: same && previous?.spec?.acquireTime ? previous.spec.acquireTime : now,
      renewTime: now,
      leaseTransitions: (previous?.spec?.leaseTransitions ?? 0) + (previous && !same ? 1 : 0),
    };
  };
  const refuse = (lease: V1Lease | undefined) => {
    const s = lease?.spec;
    return new ChainLeaseHeldError(
      `the continuous backup's Lease ${namespace}/${name} is held by ${s?.holderIdentity ?? "another process"} (renewed ${
        s?.renewTime ? new Date(s.renewTime).toISOString() : "never"
      }, for ${s?.leaseDurationSeconds ?? "?"}s): it writes this chain; stop it, or wait until the Lease expires`,
    );
  };

  let current = await cluster.readLease(namespace, name, signal);
  try {
    if (!current)
      current = await cluster.createLease(
        namespace,
        { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: spec() },
        signal,
      );
    else if (isFree(current, holder))
      current = await cluster.replaceLease(namespace, withSpec(current, spec(current)), signal);
    else throw refuse(current);
  } catch (err) {
    // Someone created or renewed it between our read and our write: they hold it.
    if (err instanceof KubeConflictError) throw refuse(await cluster.readLease(namespace, name, signal));
    throw err;
  }
  log.info({ lease: `${namespace}/${name}`, holder, durationSeconds: duration }, "chain Lease taken");

  const lost = new AbortController();
  let lastRenewed = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> = Promise.resolve();
  let released = false;
  // Another process may take the Lease once it has not been renewed for its duration: this one stops
  // writing well before that, whatever its renewals are doing (failing, or hanging on a lost network).
  const stopBy = (duration * 1000 * 2) / 3;
  const watchdog = setInterval(() => {
    if (released || lost.signal.aborted || Date.now() - lastRenewed <= stopBy) return;
    lost.abort(
      new OperationError(
        `could not renew the Lease ${namespace}/${name} for ${Math.round(stopBy / 1000)}s: another process may take it at ${duration}s, so this one stops writing`,
      ),
    );
  }, 1000);
  watchdog.unref();
  lost.signal.addEventListener("abort", () => clearInterval(watchdog), { once: true });
  const renew = async () => {
    if (released) return;
    try {
      current = await cluster.replaceLease(namespace, withSpec(current as V1Lease, spec(current)), signal);
      lastRenewed = Date.now();
    } catch (err) {
      if (signal?.aborted || err instanceof CancelledError) return;
      const now = await cluster.readLease(namespace, name, signal).catch(() => undefined);
      if (now && now.spec?.holderIdentity !== holder) {
        lost.abort(refuse(now));
        return;
      }
      if (now) current = now; // our own Lease, changed meanwhile (a retried write): carry on from it
      if (Date.now() - lastRenewed > stopBy) {
        lost.abort(
          new OperationError(
            `could not renew the Lease ${namespace}/${name} for ${duration}s (${describe(err)}): another process may take it, so this one stops writing`,
          ),
        );
        return;
      }
      log.warn({ lease: `${namespace}/${name}`, error: describe(err) }, "renewing the chain Lease failed; retrying");
    }
    if (!lost.signal.aborted && !released) timer = setTimeout(tick, (duration * 1000) / 3);
  };
  const tick = () => {
    renewing = renew();
  };
  timer = setTimeout(tick, (duration * 1000) / 3);
  return {
    holder,
    lost: lost.signal,
    async release() {
      released = true;
      clearTimeout(timer);
      clearInterval(watchdog);
      await renewing;
      if (lost.signal.aborted) return;
      lost.abort(new CancelledError("the chain Lease was released"));
      try {
        // Cleared, not deleted: the next holder's write is a compare-and-swap on this version.
        const free = withSpec(current as V1Lease, { ...(current?.spec ?? {}), holderIdentity: undefined });
        await cluster.replaceLease(namespace, free, undefined);
      } catch (err) {
        log.warn(
          { lease: `${namespace}/${name}`, error: describe(err) },
          "could not release the chain Lease; it expires",
        );
      }
    },
  };
}

function withSpec(lease: V1Lease, spec: V1Lease["spec"]): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: lease.metadata ?? {},
    ...(spec ? { spec } : {}),
  };
}

/** Ours already, released, or not renewed within its duration. */
function isFree(lease: V1Lease, holder: string): boolean {
  const s = lease.spec;
  if (!s?.holderIdentity || s.holderIdentity === holder) return true;
  const renewed = s.renewTime ? new Date(s.renewTime).getTime() : 0;
  return Date.now() > renewed + (s.leaseDurationSeconds ?? 0) * 1000;
}
