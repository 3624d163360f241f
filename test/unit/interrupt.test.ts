import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Interrupt } from "../../src/cli/interrupt.js";
import { CancelledError, NotRestoredError, OperationError } from "../../src/errors.js";

/** An Interrupt whose exit is recorded instead of ending the test process. */
function harness(deadlineMs = 30_000) {
  const lines: string[] = [];
  const exits: number[] = [];
  let exited: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    exited = resolve;
  });
  const interrupt = new Interrupt({
    deadlineMs,
    report: (l) => lines.push(l),
    exit: (code) => {
      exits.push(code);
      exited();
    },
  });
  return { interrupt, lines, exits, done };
}

describe("Interrupt: the process's one owner of signals", () => {
  it("aborts the work, waits for it, runs cleanups newest first, then exits 130 on SIGINT", async () => {
    const { interrupt, lines, exits, done } = harness();
    const order: string[] = [];
    const work = new Promise<void>((_, reject) => {
      interrupt.signal.addEventListener("abort", () => {
        order.push("work saw abort");
        setImmediate(() => {
          order.push("work settled");
          reject(interrupt.signal.reason);
        });
      });
    });
    interrupt.track(work);
    interrupt.defer("first registered", () => {
      order.push("first registered");
    });
    interrupt.defer("second registered", async () => {
      order.push("second registered");
    });
    void interrupt.handle("SIGINT");
    await done;
    assert.deepEqual(order, ["work saw abort", "work settled", "second registered", "first registered"]);
    assert.deepEqual(exits, [130]);
    assert.ok(interrupt.signal.reason instanceof CancelledError);
    assert.equal(interrupt.interruptedBy, "SIGINT");
    assert.deepEqual(lines, ["received SIGINT: stopping and cleaning up"]);
  });

  it("reports and ignores a second signal while cleanup runs; exits once, with the first signal's code", async () => {
    const { interrupt, lines, exits, done } = harness();
    let finishCleanup: () => void = () => {};
    const cleanupStarted = new Promise<void>((started) => {
      interrupt.defer(
        "slow cleanup",
        () =>
          new Promise<void>((resolve) => {
            finishCleanup = resolve;
            started();
          }),
      );
    });
    void interrupt.handle("SIGTERM");
    await cleanupStarted;
    await interrupt.handle("SIGINT");
    assert.deepEqual(exits, [], "the second signal did not end the process");
    finishCleanup();
    await done;
    assert.deepEqual(exits, [143]);
    assert.deepEqual(lines, [
      "received SIGTERM: stopping and cleaning up",
      "received SIGINT again: still cleaning up, not exiting yet",
    ]);
  });

  it("exits at the deadline when a cleanup hangs", async () => {
    const { interrupt, lines, exits, done } = harness(50);
    interrupt.defer("hangs", () => new Promise<void>(() => {}));
    void interrupt.handle("SIGHUP");
    await done;
    assert.deepEqual(exits, [129]);
    assert.match(lines.at(-1) ?? "", /cleanup did not finish within 0\.05s; exiting anyway/);
  });

  it("reports a failing cleanup and still runs the others", async () => {
    const { interrupt, lines, exits, done } = harness();
    const ran: string[] = [];
    interrupt.defer("resume", () => {
      ran.push("resume");
    });
    interrupt.defer("broken", () => {
      throw new Error("boom");
    });
    void interrupt.handle("SIGINT");
    await done;
    assert.deepEqual(ran, ["resume"]);
    assert.deepEqual(exits, [130]);
    assert.ok(lines.includes('cleanup "broken" failed: boom'));
  });

  it("an unregistered cleanup does not run", async () => {
    const { interrupt, exits, done } = harness();
    let ran = false;
    const undo = interrupt.defer("finished by itself", () => {
      ran = true;
    });
    undo();
    void interrupt.handle("SIGINT");
    await done;
    assert.equal(ran, false);
    assert.deepEqual(exits, [130]);
  });
});

describe("Interrupt on an uncaught error", () => {
  it("aborts the work, runs the cleanups and exits 1, saying it is a bug", async () => {
    const lines: string[] = [];
    const exits: number[] = [];
    let done: () => void = () => {};
    const exited = new Promise<void>((r) => {
      done = r;
    });
    const interrupt = new Interrupt({
      report: (l) => lines.push(l),
      exit: (c) => {
        exits.push(c);
        done();
      },
    });
    let resumed = false;
    interrupt.defer("resume", () => {
      resumed = true;
    });
    void interrupt.crash(new Error("socket ended\nat somewhere"));
    await exited;
    assert.equal(resumed, true);
    assert.deepEqual(exits, [1]);
    assert.equal(interrupt.signal.aborted, true);
    assert.equal(interrupt.exiting, true);
    assert.match(
      lines[0] ?? "",
      /^unexpected error: socket ended \(please report this as a bug\); cleaning up before exit$/,
    );
    await interrupt.handle("SIGINT");
    assert.match(lines.at(-1) ?? "", /received SIGINT again: still cleaning up/);
  });
});

describe("Interrupt and the interrupted work", () => {
  function make(workGraceMs: number) {
    const lines: string[] = [];
    let done: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => {
      done = r;
    });
    const interrupt = new Interrupt({ report: (l) => lines.push(l), exit: (c) => done(c), workGraceMs });
    return { interrupt, lines, exited };
  }

  it("reports the work's failure when it is more than the echo of the signal (a resume that failed)", async () => {
    const { interrupt, lines, exited } = make(10_000);
    interrupt.track(
      Promise.reject(new Error("resuming clusters/example failed: forbidden; run hcp-etcd-backup resume")),
    );
    void interrupt.handle("SIGTERM");
    assert.equal(await exited, 143);
    assert.ok(
      lines.some((l) => /resuming clusters\/example failed/.test(l)),
      lines.join("\n"),
    );
  });

  it("a failure that wraps a cancelled call is the echo of the signal: the cancellation line only", async () => {
    const { interrupt, lines, exited } = make(10_000);
    interrupt.track(
      Promise.reject(
        new OperationError("no etcd StatefulSet clusters-example/etcd: get statefulsets was cancelled", {
          cause: new CancelledError("get statefulsets was cancelled"),
        }),
      ),
    );
    void interrupt.handle("SIGINT");
    assert.equal(await exited, 130);
    assert.deepEqual(lines, ["received SIGINT: stopping and cleaning up"]);
  });

  it("something left changed is said even when a cancel caused it (NotRestoredError)", async () => {
    const { interrupt, lines, exited } = make(10_000);
    const cancelled = new CancelledError("interrupted by SIGINT");
    interrupt.track(
      Promise.reject(
        new NotRestoredError("interrupted by SIGINT; resuming clusters/example failed too (forbidden)", {
          cause: cancelled,
        }),
      ),
    );
    void interrupt.handle("SIGINT");
    assert.equal(await exited, 130);
    assert.deepEqual(lines, [
      "received SIGINT: stopping and cleaning up",
      "interrupted by SIGINT; resuming clusters/example failed too (forbidden)",
    ]);
  });

  it("runs the cleanups after the grace period when the work does not unwind", async () => {
    const { interrupt, lines, exited } = make(20);
    interrupt.track(new Promise(() => {}));
    let resumed = false;
    interrupt.defer("resume", () => {
      resumed = true;
    });
    void interrupt.handle("SIGINT");
    assert.equal(await exited, 130);
    assert.equal(resumed, true);
    assert.ok(lines.includes("the interrupted work has not stopped yet; running the cleanups now"));
  });
});
