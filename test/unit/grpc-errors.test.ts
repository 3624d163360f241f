// Pure: no daemon. The errors are grpc-js's own, either produced by a real call to a port where
// nothing listens, or shaped as grpc-js shapes them (code, details, metadata) with the details its
// resolver and subchannel write for the other socket failures.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { EtcdError } from "../../src/errors.js";
import { mapGrpcError } from "../../src/etcd/grpc-errors.js";

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

const unavailable = (socketError: string) =>
  serviceError(status.UNAVAILABLE, `No connection established. Last error: Error: ${socketError}. Resolution note: `);

describe("mapGrpcError", () => {
  it("says 'connection refused' for a real grpc-js call to a closed port, without grpc-js's history", async () => {
    const client = new Client("127.0.0.1:1", credentials.createInsecure());
    try {
      const err = await new Promise<ServiceError>((resolve, reject) =>
        client.makeUnaryRequest(
          "/etcdserverpb.Maintenance/Status",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          { deadline: Date.now() + 10_000 },
          (e) => (e ? resolve(e) : reject(new Error("a call to a closed port succeeded"))),
        ),
      );
      const mapped = mapGrpcError(err, "https://127.0.0.1:1", "Status");
      assert.ok(mapped instanceof EtcdError);
      assert.equal(mapped.message, "cannot reach etcd at https://127.0.0.1:1: connection refused");
      assert.equal(mapped.cause, err);
    } finally {
      client.close();
    }
  });

  const cases: Array<[string, ServiceError, string]> = [
    ["ECONNREFUSED", unavailable("connect ECONNREFUSED 10.0.0.1:2379"), "connection refused"],
    ["ENOTFOUND", unavailable("getaddrinfo ENOTFOUND etcd.invalid"), "host not found"],
    ["EAI_AGAIN", unavailable("getaddrinfo EAI_AGAIN etcd.example"), "host not found"],
    [
      "resolver failure",
      serviceError(status.UNAVAILABLE, "Name resolution failed for target dns:etcd.invalid:2379"),
      "host not found",
    ],
    ["ETIMEDOUT", unavailable("connect ETIMEDOUT 10.0.0.1:2379"), "connection timed out"],
    ["EHOSTUNREACH", unavailable("connect EHOSTUNREACH 10.0.0.1:2379"), "host unreachable"],
    ["ENETUNREACH", unavailable("connect ENETUNREACH 10.0.0.1:2379"), "network unreachable"],
    ["ECONNRESET", unavailable("read ECONNRESET"), "connection reset by the server"],
    ["dropped", serviceError(status.UNAVAILABLE, "Connection dropped"), "connection dropped"],
    [
      "no socket error",
      serviceError(status.UNAVAILABLE, "No connection established. Resolution note: "),
      "no connection could be established",
    ],
  ];
  for (const [name, err, words] of cases) {
    it(`puts ${name} in words`, () => {
      const mapped = mapGrpcError(err, "https://etcd:2379", "Status");
      assert.equal(mapped.message, `cannot reach etcd at https://etcd:2379: ${words}`);
      assert.doesNotMatch(mapped.message, /Resolution note|Last error|\bE[A-Z]{4,}\b/);
    });
  }

  it("still names a TLS failure as such, before any connection wording", () => {
    const err = serviceError(
      status.UNAVAILABLE,
      "No connection established. Last error: Error: self-signed certificate",
    );
    assert.match(
      mapGrpcError(err, "https://etcd:2379", "Status").message,
      /^TLS failure talking to etcd at https:\/\/etcd:2379: .*--cacert/,
    );
  });

  it("names the name a certificate was checked against when it is not the address dialled", () => {
    const err = serviceError(
      status.UNAVAILABLE,
      "No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames",
    );
    assert.equal(
      mapGrpcError(err, "https://10.128.0.7:2379", "Status", "etcd-0.etcd-discovery.ns.svc").message,
      "TLS failure talking to etcd at https://10.128.0.7:2379: the server certificate does not name etcd-0.etcd-discovery.ns.svc (the name checked, not the address dialled)",
    );
    assert.match(mapGrpcError(err, "https://etcd:2379", "Status").message, /does not name this host/);
  });

  it("keeps other statuses' wording", () => {
    const late = mapGrpcError(
      serviceError(status.DEADLINE_EXCEEDED, "Deadline exceeded"),
      "https://etcd:2379",
      "Status",
    );
    assert.equal(late.message, "etcd at https://etcd:2379 did not answer Status in time");
    const creds = mapGrpcError(
      serviceError(status.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password"),
      "https://etcd:2379",
      "Authenticate",
    );
    assert.match(creds.message, /^etcd at https:\/\/etcd:2379 refused the credentials \(Authenticate\)/);
  });
});
