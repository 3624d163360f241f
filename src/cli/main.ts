#!/usr/bin/env -S node --max-semi-space-size=4
// The flag caps V8's young generation at 4 MiB semi-spaces. Streaming a snapshot otherwise lets it
// grow to 16 MiB, after which the old generation's headroom is smaller than the young one and V8
// runs a full mark-compact every ~100 ms (40-60 per GiB in about half the runs, 1-2 s of CPU per
// GiB, +20-30 MiB RSS). The flag only takes effect on the command line, hence the shebang.
import { toolVersion } from "../package-info.js";

// `--version` alone is answered before the command line's modules load (commander, pino, every
// command's): a script asking for it pays for Node's start and little more (bench/startup.ts).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) process.stdout.write(`${toolVersion()}\n`);
// No top-level await: the single executable runs this bundled as CommonJS. runMain reports its own errors.
else
  void import("./run.js").then(
    ({ runMain }) => runMain(process.argv),
    (err: Error) => {
      // A broken install (a file missing from the package): one line, not a stack trace.
      process.stderr.write(`hcp-etcd-backup: error: cannot load the command line: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
