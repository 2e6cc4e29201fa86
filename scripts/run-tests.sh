#!/usr/bin/env bash
# Runs every tests/**/*.test.ts with Node's own test runner (Node 20 takes no
# globs), TypeScript loaded through tsx. Extra arguments narrow the set:
#   scripts/run-tests.sh tests/registry
set -euo pipefail
cd "$(dirname "$0")/.."
roots=("${@:-tests}")
mapfile -t files < <(find "${roots[@]}" -name '*.test.ts' -not -path '*/node_modules/*' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files under ${roots[*]}" >&2
  exit 1
fi
# --test-force-exit: once every test of a file has finished, a stray handle
# must not keep the file's process alive until the timeout; results are
# already decided. (Leaks are tested where they matter to a deployment: see
# tests/spec-provider/store-close.test.ts and the shutdown tests.)
exec node --import tsx --test --test-force-exit --test-concurrency="${TEST_CONCURRENCY:-1}" --test-timeout=600000 "${files[@]}"
