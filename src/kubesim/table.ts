import type { SimClock } from "./clock.js";
import { getNumber, isObject, type JsonObject, meta } from "./json.js";
import type { ResourceType } from "./resources.js";

/** Whether the client asked for server-side printing (kubectl's default output). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? "");
}

interface Column {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly cell: (obj: JsonObject, now: Date) => string | number;
}

/** `5s`, `3m`, `2h`, `4d`: kubectl's short duration. */
export function age(created: unknown, now: Date): string {
  if (typeof created !== "string") return "<unknown>";
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const NAME: Column = { name: "Name", type: "string", format: "name", cell: (o) => String(meta(o).name ?? "") };
const AGE: Column = { name: "Age", type: "string", cell: (o, now) => age(meta(o).creationTimestamp, now) };

function podReady(o: JsonObject): string {
  const statuses = isObject(o.status) && Array.isArray(o.status.containerStatuses) ? o.status.containerStatuses : [];
  const ready = statuses.filter((c) => isObject(c) && c.ready === true).length;
  return `${ready}/${statuses.length}`;
}

function podRestarts(o: JsonObject): number {
  const st = isObject(o.status) ? o.status : {};
  return [st.initContainerStatuses, st.containerStatuses]
    .flatMap((l) => (Array.isArray(l) ? l : []))
    .reduce((n: number, c) => n + (isObject(c) && typeof c.restartCount === "number" ? c.restartCount : 0), 0);
}

function podStatus(o: JsonObject): string {
  if (meta(o).deletionTimestamp) return "Terminating";
  return initStatus(o) ?? (isObject(o.status) && typeof o.status.phase === "string" ? o.status.phase : "Unknown");
}

/** While init containers run, kubectl's STATUS as kube-apiserver's pod printer words it (Init:0/1, Init:CrashLoopBackOff). */
function initStatus(o: JsonObject): string | undefined {
  const list =
    isObject(o.status) && Array.isArray(o.status.initContainerStatuses) ? o.status.initContainerStatuses : [];
  for (const [i, c] of list.entries()) {
    if (!isObject(c) || !isObject(c.state)) continue;
    const { terminated, waiting } = c.state;
    if (isObject(terminated) && terminated.exitCode === 0) continue;
    if (isObject(terminated))
      return typeof terminated.reason === "string"
        ? `Init:${terminated.reason}`
        : `Init:ExitCode:${terminated.exitCode}`;
    if (isObject(waiting) && typeof waiting.reason === "string" && waiting.reason !== "PodInitializing")
      return `Init:${waiting.reason}`;
    return `Init:${i}/${list.length}`;
  }
  return undefined;
}

function columns(rt: ResourceType): Column[] {
  switch (rt.resource) {
    case "pods":
      return [
        NAME,
        { name: "Ready", type: "string", cell: podReady },
        { name: "Status", type: "string", cell: podStatus },
        { name: "Restarts", type: "integer", cell: podRestarts },
        AGE,
      ];
    case "deployments":
    case "statefulsets":
      return [
        NAME,
        {
          name: "Ready",
          type: "string",
          cell: (o) => `${getNumber(o, ["status", "readyReplicas"]) ?? 0}/${getNumber(o, ["spec", "replicas"]) ?? 0}`,
        },
        AGE,
      ];
    default:
      return [NAME, AGE];
  }
}

/** A meta.k8s.io/v1 Table of `objects`, each row carrying the object's metadata (includeObject=Metadata). */
export function toTable(
  rt: ResourceType,
  objects: readonly JsonObject[],
  resourceVersion: string,
  clock: SimClock,
): JsonObject {
  const cols = columns(rt);
  const now = clock.now();
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.name,
      priority: 0,
    })),
    rows: objects.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: meta(structuredClone(o)) },
    })),
  };
}
