import { UsageError } from "../../errors.js";

const GI = 1024 ** 3;

const SUFFIX: Readonly<Record<string, number>> = {
  "": 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: GI,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

/** Bytes of a Kubernetes quantity as PV sizes are written (`8Gi`, `10G`, `500Mi`, `1.5Gi`, `1e9`). */
export function quantityBytes(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:([eE][0-9]+)|(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?)$/.exec(q.trim());
  if (!m) throw new UsageError(`persistentVolume.size "${q}" is not a Kubernetes quantity (e.g. 8Gi)`);
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return Math.ceil(base * (SUFFIX[m[3] ?? ""] as number));
}

/**
 * The PV a restore of `dbBytes` needs, in whole Gi: the restored database plus room for it to work —
 * etcd's WAL and snapshot files, and growth until the next compaction and defragmentation — taken as
 * half the database, at least 1 GiB. The downloaded snapshot sits in the container's /tmp, not here.
 */
export function neededPvGi(dbBytes: number): number {
  const headroom = Math.max(GI, dbBytes / 2);
  return Math.ceil((dbBytes + headroom) / GI);
}

/** HyperShift's CRD default when `persistentVolume.size` is absent. */
export const DEFAULT_PV_SIZE = "8Gi";

export interface PvSizePlan {
  /** The size the rendered HostedCluster asks for (the CRD default when absent). */
  readonly rendered: string;
  /** The size to run with: what the source needs, or the rendered size when that is larger (never shrink). */
  readonly size: string;
  readonly neededGi: number;
  readonly raised: boolean;
}

export function planPvSize(rendered: string | number | undefined, dbBytes: number): PvSizePlan {
  const current = rendered === undefined ? DEFAULT_PV_SIZE : String(rendered);
  const neededGi = neededPvGi(dbBytes);
  if (quantityBytes(current) >= neededGi * GI) return { rendered: current, size: current, neededGi, raised: false };
  return { rendered: current, size: `${neededGi}Gi`, neededGi, raised: true };
}

export const GIB = GI;
