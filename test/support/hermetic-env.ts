/**
 * The caller's environment must not change what a test sees: an `AWS_ENDPOINT_URL` (set on any
 * machine that talks to an S3-compatible store) redirected the SDK in a unit test, a `KUBECONFIG`
 * or an in-cluster `KUBERNETES_SERVICE_HOST` picks other credentials, a proxy reroutes loopback
 * requests, `TZ` moves dates. Preloaded by strict-process.ts, so it holds for `node --test FILE`
 * as well as for make; the Makefile's test-unit scrubs the same names before node starts.
 */
const SCRUBBED = /^(AWS_|KUBERNETES_SERVICE_|KUBECONFIG$|(HTTPS?|ALL|NO)_PROXY$)/i;

export function scrubEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of Object.keys(env)) if (SCRUBBED.test(name)) delete env[name];
  // Node reads TZ anew when it is assigned: every later Date uses UTC.
  env.TZ = "UTC";
}

scrubEnvironment();
