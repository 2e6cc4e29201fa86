#!/usr/bin/env bash
# Fails when the committed code in gen/ is not what `npm run gen` makes from proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx buf generate --output "$out"
if ! diff -r gen "$out/gen" >/dev/null; then
  diff -r gen "$out/gen" | head -40
  echo "gen/ is stale: run 'npm run gen' and commit the result" >&2
  exit 1
fi
echo "gen/ is up to date"
