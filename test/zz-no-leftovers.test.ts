// Runs last (the Makefile lists it last, with one test file at a time): every earlier test file
// must have stopped the daemons it started and removed its temp directories.
import assert from "node:assert/strict";
import { it } from "node:test";
import { leftoverProcesses, leftoverTempDirs } from "./support/leftovers.js";

it("leaves no etcd or Ceph process of the tests running", () => {
  assert.deepEqual(leftoverProcesses(), []);
});

it("leaves no temp directory of the tests behind", () => {
  assert.deepEqual(leftoverTempDirs(), []);
});
