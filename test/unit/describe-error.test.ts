import assert from "node:assert/strict";
import { it } from "node:test";
import { describe as describeError } from "../../src/errors.js";

it("describes an Error, a WebSocket error event (message or inner error) and anything else in words", () => {
  assert.equal(describeError(new Error("boom")), "boom");
  // What client-node's port-forward rejects with when the WebSocket fails: ws's ErrorEvent.
  assert.equal(
    describeError({ type: "error", message: "connect ECONNREFUSED 127.0.0.1:6443", error: new Error("inner") }),
    "connect ECONNREFUSED 127.0.0.1:6443",
  );
  assert.equal(describeError({ type: "error", message: "", error: new Error("socket hang up") }), "socket hang up");
  assert.equal(describeError("plain words"), "plain words");
  assert.equal(describeError(42), "42");
  assert.notEqual(describeError({ type: "error" }), "");
});
