#!/usr/bin/env bash
# Sets up everything and runs gemmad in user mode with the default model, then holds one chat
# turn through gemmactl. No root needed beyond the package install (skip it: NO_DEPS=1).
#
# The default model is a synthetic Gemma 4 E2B (Q4_0, the real 262,144-token vocabulary):
# weights cannot be downloaded here, so its replies are not meaningful text. To serve real
# weights, put a Gemma 4 GGUF in the models directory and pass MODEL=path.
# PRESET=tiny makes a few-MB model for a fast try-out.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
preset="${PRESET:-e2b}"
build="${BUILD_DIR:-$root/build}"
data="${XDG_DATA_HOME:-$HOME/.local/share}/gemmad"
models="$data/models"
socket="${GEMMAD_SOCKET:-${XDG_RUNTIME_DIR:-/tmp}/gemmad.sock}"

[ "${NO_DEPS:-0}" = 1 ] || bash "$root/scripts/install-deps.sh"
bash "$root/scripts/fetch-tokenizer.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target gemmad gemmactl
ctl="$build/clients/gemmactl/gemmactl"

mkdir -p "$models"
vocab="$models/gemma4-vocab.gguf"
[ -f "$vocab" ] || "$ctl" model import-vocab "$root/models/tokenizer.json" -o "$vocab"
model="${MODEL:-$models/gemma4-$preset-synthetic-q4_0.gguf}"
if [ ! -f "$model" ]; then
  echo "quickstart: writing the default model $model"
  "$ctl" model synth --preset "$preset" --quant q4_0 --vocab "$vocab" -o "$model"
fi

if "$ctl" --socket "$socket" status >/dev/null 2>&1; then
  echo "quickstart: gemmad already running on $socket"
else
  echo "quickstart: starting gemmad on $socket (log: $data/gemmad.log)"
  nohup "$build/daemon/gemmad" --model "$model" --socket "$socket" --state-dir "$data" \
    >"$data/gemmad.log" 2>&1 &
  for _ in $(seq 1 300); do
    "$ctl" --socket "$socket" status >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
"$ctl" --socket "$socket" status
"$ctl" --socket "$socket" chat --new -n 32 "Hello! Who are you?"
echo
echo "quickstart: gemmad keeps running; chat with: $ctl chat --new \"…\"; stop it with: pkill -TERM -x gemmad"
