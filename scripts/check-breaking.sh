#!/usr/bin/env bash
# Fails when proto/ breaks wire or JSON compatibility with the API as it was
# first committed (Gitpod's registryfacade layout and the first management
# API): clients generated from that version must keep working.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=$(git log --diff-filter=A --format=%H -- proto/registryfacade/provider.proto | tail -n 1)
if [ -z "$baseline" ]; then
  echo "no commit adds proto/registryfacade/provider.proto (a shallow clone?): cannot check breaking changes" >&2
  exit 1
fi
npx buf breaking --against ".git#ref=$baseline"
echo "proto/ is wire- and JSON-compatible with $baseline"
