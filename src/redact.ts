/**
 * A URL as it may be shown: credentials in it (`https://user:password@host`) are replaced. Users
 * paste such URLs into flags; messages and logs name the endpoint, never what logs in to it.
 */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1***@");
}

/**
 * Text that may quote a presigned URL (an API server's error echoes the field it refused): the query
 * that makes it a bearer credential — signature, credential scope, session token — is masked.
 */
export function withoutPresignedQuery(text: string): string {
  return text.replace(/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']*/gi, "$1***");
}
