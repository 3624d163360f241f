import { get } from "node:https";

/** A plain HTTPS GET, as etcd-init's curl fetches a presigned snapshot: no SDK, no credentials. */
export function download(url: string, ca: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    }).on("error", reject);
  });
}
