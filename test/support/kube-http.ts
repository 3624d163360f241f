// Raw HTTPS requests to the Kubernetes API simulator: for the tests that check what goes over the
// wire (codes, Status bodies, headers), where kubectl and client-node would hide it.
import { request } from "node:https";
import type { KubeApiServer } from "../../src/kubesim/server.js";

export interface KubeResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON bodies.
  readonly body: any;
}

export interface KubeRequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  /** Bearer token; `null` sends none (default: the server's). */
  readonly token?: string | null;
  readonly accept?: string;
}

export function kubeRequest(
  api: KubeApiServer,
  method: string,
  path: string,
  options: KubeRequestOptions = {},
): Promise<KubeResponse> {
  const url = new URL(path, api.url);
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json" };
  const token = options.token === undefined ? api.token : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (payload !== undefined) headers["Content-Type"] = options.contentType ?? "application/json";
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: api.caPem, servername: "localhost" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}
