import assert from "node:assert/strict";
import { it } from "node:test";
import { StoreError } from "../../src/errors.js";
import { mapS3Error } from "../../src/store/s3-errors.js";

const map = (err: unknown) => mapS3Error(err, "upload x/snapshot.db", "backups", "https://s3.example.com");
const sdk = (name: string, status?: number, message = "") =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

it("mapS3Error: one line per S3 failure, naming bucket, code and what to do, with the SDK error as cause", () => {
  const cases: Array<[unknown, RegExp]> = [
    [
      sdk("NoSuchBucket", 404),
      /bucket "backups" at https:\/\/s3\.example\.com \(404 NoSuchBucket\): the bucket does not exist/,
    ],
    [sdk("NotFound", 404), /\(404 NoSuchBucket\)/],
    [sdk("Unknown", 403), /\(403 AccessDenied\): access denied/],
    [sdk("InvalidAccessKeyId", 403), /access key is unknown/],
    [sdk("SignatureDoesNotMatch", 403), /secret key is wrong/],
    [sdk("RequestTimeTooSkewed", 403), /clock is off/],
    [
      sdk("TimeoutError", undefined, "Connection timed out after inactivity"),
      /stopped answering while trying to upload x\/snapshot\.db/,
    ],
    [sdk("TimeoutError", undefined, "socket timeout"), /^cannot reach S3 endpoint https:\/\/s3\.example\.com/],
    [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
      /^cannot reach S3 endpoint/,
    ],
    [
      Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" }),
      /pass --s3-ca-bundle/,
    ],
    [
      sdk("SlowDown", 503, "Please reduce your request rate.\nmore"),
      /\(503 SlowDown\): Please reduce your request rate\.$/,
    ],
    [undefined, /S3 refused to upload x\/snapshot\.db .*\(error\): unexpected answer/],
  ];
  for (const [err, re] of cases) {
    const mapped = map(err);
    assert.ok(mapped instanceof StoreError);
    assert.match(mapped.message, re);
    assert.doesNotMatch(mapped.message, /\n/);
    assert.equal(mapped.cause, err);
  }
});
