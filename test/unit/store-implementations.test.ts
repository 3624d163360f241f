import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { STORE_FACTORIES } from "../store/store-factories.js";

const STORE_METHODS = [
  "put",
  "get",
  "read",
  "exists",
  "list",
  "delete",
  "abortIncomplete",
  "check",
  "urlOf",
  "localPath",
];
const SRC = fileURLToPath(new URL("../../src/store/", import.meta.url));

it("every Store implementation in src/store runs the contract suite (test/store/store-factories.ts)", async () => {
  const found: string[] = [];
  for (const file of readdirSync(SRC).filter((f) => f.endsWith(".ts"))) {
    const mod = (await import(new URL(`../../src/store/${file}`, import.meta.url).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== "function" || !value.prototype) continue;
      const proto = value.prototype as Record<string, unknown>;
      if (STORE_METHODS.every((m) => typeof proto[m] === "function")) found.push(name);
    }
  }
  assert.ok(found.includes("LocalStore") && found.includes("S3Store"), `found ${found.join(", ")}`);
  const covered = STORE_FACTORIES.map((f) => f.implementation.name);
  assert.deepEqual([...covered].sort(), [...found].sort(), "add a factory for each Store to STORE_FACTORIES");
});
