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

it("mapS3Error: no credentials found is not 'S3 refused': it says what to set (S3 was never asked)", () => {
  const noCreds = Object.assign(new Error("Could not load credentials from any providers"), {
    name: "CredentialsProviderError",
  });
  const plain = mapS3Error(noCreds, "list p/", "backups", "https://s3.example.com", undefined);
  assert.match(
    plain.message,
    /^no S3 credentials to list p\/ in bucket "backups" at https:\/\/s3\.example\.com: none in the environment, ~\/\.aws, web identity or instance metadata; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME .*, or use web identity \(AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE\)$/,
  );
  assert.doesNotMatch(plain.message, /refused|CredentialsProviderError/);
  assert.equal(plain.cause, noCreds);
  const withProfile = mapS3Error(noCreds, "list p/", "backups", "https://s3.example.com", "backup-writer");
  assert.match(withProfile.message, /: profile "backup-writer" \(--profile \/ AWS_PROFILE\) gave none; set /);
});

it("mapS3Error: a connection that could not be made names the endpoint, the host and what happened, not 'S3 refused'", () => {
  const sys = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
  const cases: Array<[unknown, string, RegExp]> = [
    [
      sys("getaddrinfo ENOTFOUND s3.nowhere.example", "ENOTFOUND"),
      "https://s3.nowhere.example",
      /^cannot reach S3 endpoint https:\/\/s3\.nowhere\.example to list p\/: host name not found \(s3\.nowhere\.example\), ENOTFOUND: check --s3-endpoint .* and DNS$/,
    ],
    // The SDK passes some on with the code only in the message (name "Error").
    [
      sys("getaddrinfo ENOTFOUND backups.s3.us-east-1.amazonaws.com"),
      "AWS S3",
      /^cannot reach AWS S3 to list p\/: host name not found \(backups\.s3\.us-east-1\.amazonaws\.com\), ENOTFOUND: check --s3-endpoint \(or the bucket's region, --s3-region\) and DNS$/,
    ],
    [
      sys("getaddrinfo EAI_AGAIN s3.example.com", "EAI_AGAIN"),
      "https://s3.example.com",
      /host name lookup failed \(DNS\)/,
    ],
    [
      sys("connect ECONNREFUSED 127.0.0.1:9", "ECONNREFUSED"),
      "http://127.0.0.1:9",
      /^cannot reach S3 endpoint http:\/\/127\.0\.0\.1:9 to list p\/: connection refused \(127\.0\.0\.1:9\), ECONNREFUSED: check --s3-endpoint and that the store is up$/,
    ],
    [sys("read ECONNRESET", "ECONNRESET"), "https://s3.example.com", /: connection reset, ECONNRESET: /],
  ];
  for (const [err, endpoint, re] of cases) {
    const mapped = mapS3Error(err, "list p/", "backups", endpoint, undefined);
    assert.match(mapped.message, re);
    assert.doesNotMatch(mapped.message, /refused to|\n/);
    assert.equal(mapped.cause, err);
  }
});
