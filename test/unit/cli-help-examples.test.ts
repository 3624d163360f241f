// Every command's --help ends with kubectl-style examples, and each example is a command line the CLI
// accepts (walks commander's command tree: a new command without examples fails here).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandPath, helpExamples, helpText, inertProgram, leafCommands, parseOnly } from "../support/doc-commands.js";

describe("help examples", () => {
  const leaves = leafCommands(inertProgram());

  it("walks every command (the tree is what the CLI has)", () => {
    const paths = leaves.map(commandPath);
    for (const expected of [
      "backup",
      "snapshot save",
      "restore prepare",
      "restore watch",
      "schedule",
      "demo",
      "completion",
    ])
      assert.ok(paths.includes(expected), `${expected} in ${paths.join(", ")}`);
  });

  for (const cmd of leaves) {
    const path = commandPath(cmd);
    it(`${path}: --help has 1-3 examples, each one a command line it accepts`, async () => {
      const examples = helpExamples(helpText(cmd));
      assert.ok(examples.length >= 1 && examples.length <= 3, `${path}: ${examples.length} examples`);
      for (const words of examples) {
        assert.deepEqual(words.slice(0, path.split(" ").length), path.split(" "), `an example of ${path} runs ${path}`);
        await assert.doesNotReject(parseOnly(words), `hcp-etcd-backup ${words.join(" ")}`);
      }
    });
  }

  it("the parse check bites: an unknown option or a missing argument is refused", async () => {
    await assert.rejects(parseOnly(["list", "--form", "x"]), /unknown option '--form'/);
    await assert.rejects(parseOnly(["verify"]), /missing required argument/);
  });
});
