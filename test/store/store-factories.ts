import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { LocalStore } from "../../src/store/local-store.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3-store.js";
import type { Store } from "../../src/store/store.js";
import { S3Server } from "../support/s3-server.js";

/** One store under test, rooted at its own prefix, with a way to see leftovers through the backend itself. */
export interface StoreFixture {
  readonly store: Store;
  /** Leaves what an interrupted put leaves (a `.part` file, an incomplete multipart upload) at `key`. */
  makeLeftover(key: string): Promise<void>;
  /** Leftovers the backend still holds under the store's root. */
  leftovers(): Promise<number>;
}

export interface StoreBackend {
  fixture(prefix: string): Promise<StoreFixture>;
  stop(): Promise<void>;
}

export interface StoreFactory {
  readonly name: string;
  /** The class this factory builds: the unit tier checks that every Store in src/store has a factory here. */
  readonly implementation: abstract new (
    ...args: never[]
  ) => Store;
  start(): Promise<StoreBackend>;
}

/** Every Store implementation; the contract suite runs each case against each of them. */
export const STORE_FACTORIES: readonly StoreFactory[] = [
  {
    name: "LocalStore (real filesystem)",
    implementation: LocalStore,
    async start() {
      const dir = await mkdtemp(join(tmpdir(), "hcpeb-contract-"));
      return {
        async fixture(prefix) {
          const root = join(dir, prefix);
          await mkdir(root, { recursive: true });
          return {
            store: new LocalStore(root),
            async makeLeftover(key) {
              const part = join(root, `${key}.part`);
              await mkdir(dirname(part), { recursive: true });
              await writeFile(part, "interrupted");
              const old = new Date(Date.now() - 3600_000);
              await utimes(part, old, old);
            },
            async leftovers() {
              const all = await readdir(root, { recursive: true });
              return all.filter((n) => n.endsWith(".part")).length;
            },
          };
        },
        stop: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: "S3Store (Ceph RGW)",
    implementation: S3Store,
    async start() {
      const s3 = await S3Server.start();
      const client = s3.client();
      return {
        async fixture(prefix) {
          return {
            store: openStore(`s3://${s3.bucket}/${prefix}`, {
              endpoint: s3.endpoint,
              region: s3.region,
              credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
            }),
            async makeLeftover(key) {
              await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}/${key}` }));
            },
            async leftovers() {
              const res = await client.send(
                new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }),
              );
              return res.Uploads?.length ?? 0;
            },
          };
        },
        async stop() {
          client.destroy();
          await s3.stop();
        },
      };
    },
  },
];
