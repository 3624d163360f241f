import { getObject, isObject, type JsonObject, meta } from "./json.js";
import { KubeStatusError } from "./status.js";

/** The two log files kubelet keeps per container: the newest instance's and the one before it. */
interface ContainerLog {
  current: string;
  previous: string | undefined;
}

interface ContainerStatusView {
  readonly state: JsonObject;
  readonly lastTerminated: boolean;
}

/**
 * Container logs as kubelet serves them through the API server's `pods/log` subresource: plain
 * text, chosen by `container`, `previous`, `tailLines` and `limitBytes`, with kube-apiserver's and
 * kubelet's 400s for a missing or unknown container and for one that has not run yet. Tests write
 * what a container printed; a restart (`restarted`) makes the current log the previous one.
 */
export class PodLogs {
  private readonly logs = new Map<string, ContainerLog>();

  /** Sets what the newest instance of `container` printed. */
  set(namespace: string, pod: string, container: string, text: string): void {
    const log = this.entry(namespace, pod, container);
    log.current = text;
  }

  /** The container started again: its log so far becomes the previous instance's, the new one is empty. */
  restarted(namespace: string, pod: string, container: string): void {
    const log = this.entry(namespace, pod, container);
    log.previous = log.current;
    log.current = "";
  }

  /** Forgets a pod's logs (the pod was deleted and recreated under the same name). */
  forget(namespace: string, pod: string): void {
    for (const key of [...this.logs.keys()]) if (key.startsWith(`${namespace}/${pod}/`)) this.logs.delete(key);
  }

  /** The text `GET .../pods/{name}/log?<query>` answers for `pod`; throws the API's 400s. */
  read(pod: JsonObject, query: URLSearchParams): string {
    const name = String(meta(pod).name);
    const namespace = String(meta(pod).namespace);
    const containers = names(getObject(pod, ["spec"])?.containers);
    const inits = names(getObject(pod, ["spec"])?.initContainers);
    let container = query.get("container") ?? "";
    if (container === "") {
      if (containers.length !== 1) {
        const initPart = inits.length > 0 ? ` or one of the init containers: [${inits.join(" ")}]` : "";
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]${initPart}`,
        );
      }
      container = containers[0] as string;
    }
    if (!containers.includes(container) && !inits.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    for (const p of ["tailLines", "limitBytes"]) {
      const v = query.get(p);
      if (v !== null && !/^\d+$/.test(v))
        throw badRequest(`${p}: Invalid value: "${v}": must be a non-negative integer`);
    }
    const log = this.logs.get(key(namespace, name, container)) ?? { current: "", previous: undefined };
    const status = statusOf(pod, container);
    const previous = ["true", "1"].includes(query.get("previous") ?? "");
    let text: string;
    if (previous) {
      if (!status?.lastTerminated)
        throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
      // While the container waits to restart, its last instance is the newest one there is.
      text = isObject(status.state.waiting) ? log.current : (log.previous ?? "");
    } else if (!status || (isObject(status.state.waiting) && !status.lastTerminated)) {
      const reason = status && isObject(status.state.waiting) ? String(status.state.waiting.reason ?? "") : "";
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${reason || "PodInitializing"}`);
    } else {
      text = log.current;
    }
    return limit(text, query);
  }

  private entry(namespace: string, pod: string, container: string): ContainerLog {
    const k = key(namespace, pod, container);
    let log = this.logs.get(k);
    if (!log) {
      log = { current: "", previous: undefined };
      this.logs.set(k, log);
    }
    return log;
  }
}

function key(namespace: string, pod: string, container: string): string {
  return `${namespace}/${pod}/${container}`;
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.filter(isObject).map((c) => String(c.name)) : [];
}

function statusOf(pod: JsonObject, container: string): ContainerStatusView | undefined {
  const status = getObject(pod, ["status"]) ?? {};
  const all = [status.containerStatuses, status.initContainerStatuses].flatMap((l) =>
    Array.isArray(l) ? l.filter(isObject) : [],
  );
  const s = all.find((c) => c.name === container);
  if (!s) return undefined;
  const state = isObject(s.state) ? s.state : {};
  const last = isObject(s.lastState) ? s.lastState : {};
  return { state, lastTerminated: isObject(last.terminated) };
}

function limit(text: string, query: URLSearchParams): string {
  let out = text;
  const tail = query.get("tailLines");
  if (tail !== null) {
    const lines = out.split(/(?<=\n)/);
    out = lines.slice(Math.max(0, lines.length - Number(tail))).join("");
  }
  const bytes = query.get("limitBytes");
  if (bytes !== null) out = Buffer.from(out).subarray(0, Number(bytes)).toString("utf8");
  return out;
}

function badRequest(message: string): KubeStatusError {
  return new KubeStatusError(400, "BadRequest", message);
}
