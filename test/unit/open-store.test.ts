import assert from "node:assert/strict";
import { it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { LocalStore } from "../../src/store/local-store.js";
import { openStore } from "../../src/store/open-store.js";
import { S3Store } from "../../src/store/s3-store.js";

const settings = { endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: "AK", secretAccessKey: "SK" } };

it("openStore: s3:// URLs with valid bucket names, prefixes kept", () => {
  for (const [url, expected] of [
    ["s3://backups", "s3://backups"],
    ["s3://backups/", "s3://backups"],
    ["s3://my.bucket-1/clusters/prod", "s3://my.bucket-1/clusters/prod"],
    ["s3://abc//a//b/", "s3://abc/a/b"],
  ] as const) {
    const store = openStore(url, settings);
    assert.ok(store instanceof S3Store, url);
    assert.equal(store.url, expected);
    assert.equal(store.localPath("x"), undefined);
  }
  assert.equal(openStore("s3://backups/p", settings).urlOf("lab/1"), "s3://backups/p/lab/1");
});

it("openStore: refuses S3 bucket names S3 would refuse", () => {
  for (const url of ["s3://A_b/x", "s3://ab", "s3://-abc", "s3://abc-", `s3://${"a".repeat(64)}`, "s3://"]) {
    assert.throws(() => openStore(url, settings), UsageError, url);
  }
});

it("openStore: file:// URLs and plain paths give a local store whose url is the plain absolute path", () => {
  for (const [url, root] of [
    ["file:///var/backups/etcd", "/var/backups/etcd"],
    ["file:///var/back%20ups", "/var/back ups"],
    ["/var/backups/etcd/", "/var/backups/etcd"],
  ] as const) {
    const store = openStore(url);
    assert.ok(store instanceof LocalStore, url);
    assert.equal(store.url, root);
    assert.equal(store.urlOf("lab/1"), `${root}/lab/1`);
    assert.equal(store.localPath("lab/1/snapshot.db"), `${root}/lab/1/snapshot.db`);
  }
  assert.equal(openStore("relative/dir").url, `${process.cwd()}/relative/dir`);
});

it("openStore: unsupported schemes and empty URLs are usage errors", () => {
  assert.throws(() => openStore("ftp://x/y"), /unsupported store URL "ftp:\/\/x\/y"/);
  assert.throws(() => openStore("gs://bucket"), UsageError);
  assert.throws(() => openStore("   "), /no store or backup given/);
});
