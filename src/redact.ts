/**
 * A URL as it may be shown: credentials in it (`https://user:password@host`) are replaced. Users
 * paste such URLs into flags; messages and logs name the endpoint, never what logs in to it.
 */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1***@");
}

// Query parameters of a presigned S3 URL that grant access (SigV4 and SigV2): anyone holding them
// can read the object until it expires. The credential scope (key ID, date, region) is kept: it says
// which key signed, which is what a user needs to fix a refusal.
const URL_SECRETS = /\b(X-Amz-Signature|X-Amz-Security-Token|Signature|x-amz-security-token)=[^&\s"'<>]+/g;
// What S3 echoes back in an error body: the signature it was given and the request it signed.
const XML_SECRETS =
  /<(SignatureProvided|StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes)>[^<]*<\/\1>/g;

/**
 * Text that may carry a presigned URL or an S3 error body (a restore's init-container logs, a
 * rendered HostedCluster) with the signatures and session tokens replaced.
 */
export function withoutUrlSecrets(text: string): string {
  return text.replace(URL_SECRETS, "$1=***").replace(XML_SECRETS, "<$1>***</$1>");
}

/** A URL of a service (not a presigned object) as it may be shown: no user-info, no query (tokens ride there). */
export function shownEndpoint(url: string): string {
  return withoutCredentials(url).replace(/\?.*$/s, "?***");
}
