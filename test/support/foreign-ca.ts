import { createCa, issueCert } from "../../src/localetcd/certs.js";

/** A CA unrelated to the sandbox's, with a client cert: for proving that foreign certs are refused. */
export async function createForeignClient(dir: string): Promise<{ caCert: string; cert: string; key: string }> {
  const ca = await createCa(dir, "foreign-ca");
  const client = await issueCert(dir, ca, "foreign-client", "intruder", "client");
  return { caCert: ca.cert, cert: client.cert, key: client.key };
}
