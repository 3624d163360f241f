import assert from "node:assert/strict";
import { it } from "node:test";
import { CommanderError } from "commander";
import { exitReport } from "../../src/cli/exit.js";
import {
  CancelledError,
  EtcdError,
  OperationError,
  StoreError,
  UsageError,
  VerificationError,
} from "../../src/errors.js";
import { SnapshotFileError } from "../../src/snapshot/errors.js";

it("exitReport: each error class gets its exit code and one line", () => {
  const cases: Array<[unknown, number, string | RegExp | undefined]> = [
    [new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), 0, undefined],
    [
      new CommanderError(1, "commander.unknownCommand", "error: unknown command 'bakup'\n(Did you mean backup?)"),
      2,
      "unknown command 'bakup' (Did you mean backup?)",
    ],
    [
      new CommanderError(1, "commander.unknownCommand", "error: unknown command 's3://b/p/x'"),
      2,
      "unknown command 's3://b/p/x': --help lists the commands (of a group too: restore --help)",
    ],
    [new OperationError("op failed"), 1, "op failed"],
    [new EtcdError("etcd failed"), 1, "etcd failed"],
    [new StoreError("store failed"), 1, "store failed"],
    [new CancelledError("the upload of x was cancelled"), 1, "the upload of x was cancelled"],
    [new UsageError("bad flag"), 2, "bad flag"],
    [new VerificationError("bad bytes"), 3, "bad bytes"],
    [new SnapshotFileError("cannot open s.db", "missing"), 1, "cannot open s.db"],
    [new SnapshotFileError("s.db is corrupt"), 3, "s.db is corrupt"],
    [
      new TypeError("x is not a function\n    at y"),
      1,
      /^unexpected error: x is not a function \(please report this as a bug/,
    ],
    ["a thrown string", 1, /^unexpected error: a thrown string/],
  ];
  for (const [err, code, message] of cases) {
    const r = exitReport(err);
    assert.equal(r.code, code, String(err));
    if (message === undefined) assert.equal(r.message, undefined);
    else if (typeof message === "string") assert.equal(r.message, message);
    else assert.match(r.message ?? "", message);
    assert.doesNotMatch(r.message ?? "", /\n/);
  }
});
