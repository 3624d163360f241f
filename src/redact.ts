/**
 * A URL as it may be shown: credentials in it (`https://user:password@host`) are replaced. Users
 * paste such URLs into flags; messages and logs name the endpoint, never what logs in to it.
 */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1***@");
}
