#!/usr/bin/env bash
# Installs the npm packages of the OpenAI-client test (tests/integration/http_openai_test.mjs):
# the official `openai` client and `undici` (its Agent reaches a Unix socket), pinned, into
# third_party_fetch/npm (gitignored). Idempotent; the test fails with a clear message without.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/third_party_fetch/npm"
want_openai=7.59.0
want_undici=6.29.1
have() { node -p "require('$dir/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(have openai)" = "$want_openai" ] && [ "$(have undici)" = "$want_undici" ]; then
  exit 0
fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "gemmad-http-test", "private": true}' > "$dir/package.json"
npm install --silent --no-audit --no-fund --prefix "$dir" \
  "openai@$want_openai" "undici@$want_undici" >/dev/null
echo "fetch-npm-test-deps: openai $(have openai), undici $(have undici) in $dir"
