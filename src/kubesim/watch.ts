import type { ServerResponse } from "node:http";
import type { SimClock } from "./clock.js";
import { type JsonObject, meta } from "./json.js";
import type { ResourceRequest } from "./request-info.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { KubeStatusError } from "./status.js";
import type { ObjectStore, StoreEvent, WatchEventType } from "./store.js";
import { toTable } from "./table.js";

export interface WatchOptions {
  readonly store: ObjectStore;
  readonly clock: SimClock;
  readonly req: ResourceRequest;
  readonly query: URLSearchParams;
  readonly asTable: boolean;
  /** Called once the stream has ended, however it ended. */
  readonly onEnd: () => void;
}

/** An open watch; `close()` ends it (the server closes every open watch on stop). */
export interface OpenWatch {
  close(): void;
}

/**
 * Streams watch events as kube-apiserver does: one JSON object a line over a chunked 200 response.
 * Without a resourceVersion (or with "0") it starts with a synthetic ADDED for every current object;
 * with one it replays what happened after it, or answers an ERROR event (410 Expired) when that is gone.
 */
export function serveWatch(res: ServerResponse, o: WatchOptions): OpenWatch {
  const { store, req, query } = o;
  const labels = parseLabelSelector(query.get("labelSelector"));
  const fields = parseFieldSelector(query.get("fieldSelector"));
  const namespace = req.rt.namespaced ? req.namespace : undefined;
  const fromRv = query.get("resourceVersion");
  const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "0");
  let ended = false;

  const matches = (e: StoreEvent): boolean =>
    e.rt === req.rt &&
    (namespace === undefined || meta(e.object).namespace === namespace) &&
    (req.name === undefined || meta(e.object).name === req.name) &&
    labels(e.object) &&
    fields(e.object);

  const send = (type: WatchEventType | "ERROR", object: JsonObject): void => {
    if (ended) return;
    const shown =
      o.asTable && type !== "ERROR" ? toTable(req.rt, [object], String(meta(object).resourceVersion), o.clock) : object;
    res.write(`${JSON.stringify({ type, object: shown })}\n`);
  };

  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  const backlog: StoreEvent[] = [];
  let replaying = true;
  const unsubscribe = store.subscribe((e) => {
    if (!matches(e)) return;
    if (replaying) backlog.push(e);
    else send(e.type, e.object);
  });

  let timer: NodeJS.Timeout | undefined;
  const close = (): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
    res.end();
    o.onEnd();
  };
  res.on("close", close);

  if (fromRv === null || fromRv === "" || fromRv === "0") {
    const objects = store.list(req.rt, namespace).filter((obj) => labels(obj) && fields(obj));
    for (const obj of objects) if (req.name === undefined || meta(obj).name === req.name) send("ADDED", obj);
  } else {
    const rv = Number(fromRv);
    if (!Number.isInteger(rv) || rv < 0) {
      send("ERROR", new KubeStatusError(400, "BadRequest", `invalid resource version "${fromRv}"`).toStatus());
      close();
      return { close };
    }
    if (rv < store.oldestWatchable) {
      send(
        "ERROR",
        new KubeStatusError(410, "Expired", `too old resource version: ${rv} (${store.oldestWatchable})`).toStatus(),
      );
      close();
      return { close };
    }
    for (const e of store.eventsAfter(rv)) if (matches(e)) send(e.type, e.object);
  }
  replaying = false;
  for (const e of backlog.splice(0)) send(e.type, e.object);
  if (timeoutSeconds > 0) timer = setTimeout(close, timeoutSeconds * 1000);
  return { close };
}
