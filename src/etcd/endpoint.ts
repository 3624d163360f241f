import { UsageError } from "../errors.js";
import { withoutCredentials } from "../redact.js";

/** An etcd client URL as given on the command line, split into what gRPC needs. */
export interface Endpoint {
  /** The URL as the user wrote it, for messages. */
  readonly url: string;
  /** host:port for grpc-js. */
  readonly target: string;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
}

export function parseEndpoint(raw: string): Endpoint {
  const text = raw.trim();
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid etcd endpoint "${withoutCredentials(raw)}": expected https://host:port`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`invalid etcd endpoint "${withoutCredentials(raw)}": scheme must be https or http`);
  }
  const port = url.port === "" ? 2379 : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "") throw new UsageError(`invalid etcd endpoint "${withoutCredentials(raw)}": no host`);
  const target = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return { url: withoutCredentials(text), target, host, port, secure: url.protocol === "https:" };
}

export function parseEndpoints(list: string): Endpoint[] {
  const parts = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError("no etcd endpoint given: pass --endpoints https://host:port");
  return parts.map(parseEndpoint);
}
