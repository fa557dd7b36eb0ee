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
bindir="${BIN_DIR:-$HOME/.local/bin}"

[ "${NO_DEPS:-0}" = 1 ] || bash "$root/scripts/install-deps.sh"
bash "$root/scripts/fetch-tokenizer.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target gemmad gemmactl
ctl="$build/clients/gemmactl/gemmactl"
# gemmactl on the PATH: a symlink in ~/.local/bin (BIN_DIR=...), the usual per-user place.
mkdir -p "$bindir"
ln -sfn "$ctl" "$bindir/gemmactl"

mkdir -p "$models"
vocab="$models/gemma4-vocab.gguf"
[ -f "$vocab" ] || "$ctl" model import-vocab "$root/models/tokenizer.json" -o "$vocab"
model="${MODEL:-$models/gemma4-$preset-synthetic-q4_0.gguf}"
if [ ! -f "$model" ]; then
  echo "quickstart: writing the default model $model"
  "$ctl" model synth --preset "$preset" --quant q4_0 --vocab "$vocab" -o "$model"
fi

# No --socket anywhere: gemmad and gemmactl find each other by the same rule
# (ipc/socket_path.h), whatever the user and environment; $GEMMAD_SOCKET moves both.
if "$ctl" status >/dev/null 2>&1; then
  echo "quickstart: gemmad already running"
else
  echo "quickstart: starting gemmad (log: $data/gemmad.log)"
  nohup "$build/daemon/gemmad" --model "$model" --state-dir "$data" \
    >"$data/gemmad.log" 2>&1 &
  for _ in $(seq 1 300); do
    "$ctl" status >/dev/null 2>&1 && break
    kill -0 $! 2>/dev/null || { echo "quickstart: gemmad exited; see $data/gemmad.log" >&2; exit 1; }
    sleep 0.2
  done
fi
"$ctl" status
"$ctl" chat --new -n 32 "Hello! Who are you?"
echo
echo "quickstart: gemmad keeps running."
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "quickstart: $bindir is not on your PATH; add it: export PATH=\"$bindir:\$PATH\"" ;;
esac
echo "quickstart: chat with: gemmactl chat   (a REPL; /help lists its commands)"
echo "quickstart: stop it with: gemmactl shutdown"
