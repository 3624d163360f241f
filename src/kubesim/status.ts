import type { JsonObject } from "./json.js";

export type StatusReason =
  | "BadRequest"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "Forbidden"
  | "Unauthorized"
  | "UnsupportedMediaType"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "Expired"
  | "InternalError"
  | "ServiceUnavailable"
  | "TooManyRequests"
  | "Timeout";

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

/** A failure the API answers with a `Status` object, as kube-apiserver does. */
export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "KubeStatusError";
  }

  toStatus(): JsonObject {
    const status: JsonObject = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = JSON.parse(JSON.stringify(this.details)) as JsonObject;
    return status;
  }
}

/** The reason kube-apiserver gives for each HTTP code a fault can inject. */
export function reasonForCode(code: number): StatusReason {
  const map: Record<number, StatusReason> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
  };
  return map[code] ?? "InternalError";
}

export function successStatus(details: StatusDetails): JsonObject {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: JSON.parse(JSON.stringify(details)) as JsonObject,
  };
}
