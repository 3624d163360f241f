#!/usr/bin/env bash
# Runs test files again and again to prove they are not flaky; prints one line per run and a tally.
#   bench/repeat-tests.sh 20 test/backup/backup-local.test.ts test/harness/etcd-cluster.test.ts
# Optional: PATTERN='falls back|dead member|killed member' runs only the tests whose names match.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: bench/repeat-tests.sh RUNS FILE...}
shift
pattern=()
[ -n "${PATTERN:-}" ] && pattern=(--test-name-pattern "$PATTERN")
pass=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if out=$(node --import tsx --import ./test/support/strict-process.ts --test --test-concurrency=1 "${pattern[@]}" "$@" 2>&1); then
    pass=$((pass + 1)); verdict=pass
  else
    verdict=FAIL
    echo "$out" | grep -E '^\s*not ok|error:' | head -5
  fi
  tests=$(echo "$out" | sed -n 's/^# pass //p; s/^ℹ pass //p')
  echo "run $i: $verdict ($tests tests passed, $(( $(date +%s) - start ))s)"
done
echo "$pass of $runs runs passed"
[ "$pass" -eq "$runs" ]
