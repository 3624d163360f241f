import assert from "node:assert/strict";
import { it } from "node:test";
import {
  KubeConflictError,
  KubeTransientError,
  KubeUnreachableError,
  kubeError,
} from "../../src/hostedcluster/kube.js";

const SERVER = "https://api.mgmt.example.com:6443";
const REQ = { verb: "get", resource: "hostedclusters", namespace: "clusters", name: "example" } as const;
/** What client-node's fetch rejects with: a FetchError carrying Node's system error code. */
const fetchError = (code: string, reason: string) =>
  Object.assign(new Error(`request to ${SERVER}/apis/... failed, reason: ${reason}`), { code, errno: code });

it("kubeError: not reaching the API server at all is KubeUnreachableError, one line naming the server and what to check", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:6443", /connection refused \(ECONNREFUSED\): check the server/],
    ["ENOTFOUND", "getaddrinfo ENOTFOUND api.mgmt.example.com", /host name does not resolve \(ENOTFOUND\).*DNS/],
    ["EAI_AGAIN", "getaddrinfo EAI_AGAIN api.mgmt.example.com", /host name does not resolve \(EAI_AGAIN\)/],
    [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "unable to verify the first certificate",
      /cannot talk TLS .*: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): the kubeconfig's certificate-authority-data/,
    ],
    ["SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain", /cannot talk TLS/],
    ["CERT_HAS_EXPIRED", "certificate has expired", /certificate has expired \(CERT_HAS_EXPIRED\)/],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames", /cannot talk TLS/],
  ];
  for (const [code, reason, re] of cases) {
    const e = kubeError(fetchError(code, reason), REQ, SERVER);
    assert.ok(e instanceof KubeUnreachableError, code);
    // Still transient to the retry loops that run after the server answered once (quiesce, watch).
    assert.ok(e instanceof KubeTransientError, code);
    assert.match(e.message, re, code);
    assert.ok(
      [`cannot reach the Kubernetes API at ${SERVER}`, `cannot talk TLS to the Kubernetes API at ${SERVER}`].some((p) =>
        e.message.startsWith(`${p} to get hostedclusters "example" in namespace clusters: `),
      ),
      e.message,
    );
    assert.doesNotMatch(e.message, /\n/);
    assert.equal(e.exitCode, 1);
  }
});

it("kubeError: a timeout or an unreachable host stays a plain transient failure (worth waiting out)", () => {
  for (const code of ["ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET"]) {
    const e = kubeError(fetchError(code, code), REQ, SERVER);
    assert.ok(e instanceof KubeTransientError, code);
    assert.ok(!(e instanceof KubeUnreachableError), code);
    assert.ok(!(e instanceof KubeConflictError), code);
  }
});
