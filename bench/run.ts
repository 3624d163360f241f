// `make bench`: every benchmark, one after another. Results land in bench/results/*.md; docs/benchmarks.md
// holds the tables with how they were measured.
await import("./snapshot-files.js");
await import("./backup.js");
await import("./hosted.js");
await import("./fleet-all.js");
await import("./restore-drill.js");
await import("./objects.js");
await import("./continuous.js");
await import("./txn-calls.js");
await import("./startup.js");
