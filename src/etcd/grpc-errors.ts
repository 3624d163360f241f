import { type ServiceError, status as Status } from "@grpc/grpc-js";
import { EtcdError } from "../errors.js";

const TLS_HINTS: Array<[RegExp, string]> = [
  [
    /self[- ]signed|unable to (get|verify)|unknown ca|certificate verify/i,
    "the server certificate is not signed by the CA given with --cacert",
  ],
  [
    /Hostname\/IP does not match|altnames|ERR_TLS_CERT_ALTNAME/i,
    "the server certificate does not name this host (use a host name from the certificate)",
  ],
  [
    /certificate required|bad certificate|alert.*certificate/i,
    "the server refused our client certificate (check --cert/--key)",
  ],
  [/expired/i, "a certificate has expired"],
  [
    /wrong version number|packet length too long|http\/1|EPROTO/i,
    "TLS handshake failed: the endpoint may not speak TLS (try http://) or is not etcd",
  ],
];

const NAME_MISMATCH = 1;

/**
 * Turns a grpc-js error into one line that names the endpoint, the cause and what to check.
 * `serverName`: the name the certificate was checked against, when it is not the endpoint's host.
 */
export function mapGrpcError(err: ServiceError, endpoint: string, call: string, serverName?: string): EtcdError {
  const details = err.details || err.message;
  switch (err.code) {
    case Status.UNAVAILABLE: {
      if (serverName && (TLS_HINTS[NAME_MISMATCH] as [RegExp, string])[0].test(details))
        return new EtcdError(
          `TLS failure talking to etcd at ${endpoint}: the server certificate does not name ${serverName} (the name checked, not the address dialled)`,
          { cause: err },
        );
      for (const [re, hint] of TLS_HINTS) {
        if (re.test(details))
          return new EtcdError(`TLS failure talking to etcd at ${endpoint}: ${hint}`, { cause: err });
      }
      const cause = connectionCause(details);
      if (cause) return new EtcdError(`cannot reach etcd at ${endpoint}: ${cause}`, { cause: err });
      return new EtcdError(`etcd at ${endpoint} is unavailable (${call}): ${shorten(details)}`, { cause: err });
    }
    case Status.DEADLINE_EXCEEDED:
      return new EtcdError(`etcd at ${endpoint} did not answer ${call} in time`, { cause: err });
    case Status.UNAUTHENTICATED:
    case Status.PERMISSION_DENIED:
    case Status.INVALID_ARGUMENT:
      if (/auth|password|token|user|permission/i.test(details)) {
        return new EtcdError(`etcd at ${endpoint} refused the credentials (${call}): ${shorten(details)}`, {
          cause: err,
        });
      }
      return new EtcdError(`etcd at ${endpoint} rejected ${call}: ${shorten(details)}`, { cause: err });
    case Status.CANCELLED:
      return new EtcdError(`${call} on etcd at ${endpoint} was cancelled`, { cause: err });
    default:
      return new EtcdError(`etcd at ${endpoint} failed ${call}: ${shorten(details)}`, { cause: err });
  }
}

// grpc-js reports a failed connection as e.g. "No connection established. Last error: Error: connect
// ECONNREFUSED 127.0.0.1:1. Resolution note: ": its own history, of no use to the reader. The
// socket's error code says what happened; these are its words.
const CONNECT_CAUSES: Array<[RegExp, string]> = [
  [/ECONNREFUSED/, "connection refused"],
  [/ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL|Name resolution failed|DNS resolution failed/i, "host not found"],
  [/ETIMEDOUT|timed? ?out/i, "connection timed out"],
  [/EHOSTUNREACH|EHOSTDOWN/, "host unreachable"],
  [/ENETUNREACH|ENETDOWN/, "network unreachable"],
  [/ECONNRESET/, "connection reset by the server"],
  [/EADDRNOTAVAIL/, "address not available"],
  [/EPIPE|Connection dropped/i, "connection dropped"],
  [/No connection established|connect/i, "no connection could be established"],
];

function connectionCause(details: string): string | undefined {
  for (const [re, words] of CONNECT_CAUSES) if (re.test(details)) return words;
  return undefined;
}

// grpc-js details can embed multi-line resolver histories; keep the first line.
function shorten(text: string): string {
  const first = text.split("\n")[0] ?? text;
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}
