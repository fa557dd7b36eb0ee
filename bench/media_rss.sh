#!/usr/bin/env bash
# Resident memory of gemmad for text only, text + image, text + image + audio (issue 11;
# docs/PERFORMANCE.md "Media: resident memory"): starts gemmad on MODEL with its MMPROJ, runs
# one greedy turn of each kind through `gemmactl chat`, and prints the daemon's VmRSS and the
# Rss of its mmproj mapping (/proc/PID/smaps) after each.
#   bench/media_rss.sh BUILD_DIR MODEL.gguf MMPROJ.gguf IMAGE.png AUDIO.wav
set -euo pipefail
build="$1" model="$2" mmproj="$3" image="$4" audio="$5"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
printf 'media.encoder_idle_s = 3600\nmodel.threads = 2\n' > "$dir/gemmad.toml"
"$build/daemon/gemmad" --config "$dir/gemmad.toml" --model "$model" --mmproj "$mmproj" \
  --socket "$dir/s.sock" --state-dir "$dir" > "$dir/log" 2>&1 &
pid=$!
ctl() { "$build/clients/gemmactl/gemmactl" --socket "$dir/s.sock" "$@"; }
for _ in $(seq 600); do ctl status > /dev/null 2>&1 && break; sleep 0.1; done
report() {
  local rss mm
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  mm=$(awk -v f="$mmproj" '$NF == f {on = 1; next} /^[0-9a-f]+-[0-9a-f]+ / {on = 0}
                           on && /^Rss:/ {s += $2} END {print s + 0}' "/proc/$pid/smaps")
  printf '%-22s VmRSS %8d kB   mmproj Rss %8d kB\n' "$1" "$rss" "$mm"
}
report "started"
ctl chat --new --temp 0 -n 8 "Say something." > /dev/null
report "after a text turn"
ctl chat --new --temp 0 -n 8 --image "$image" "Describe the picture." > /dev/null
report "after an image turn"
ctl chat --new --temp 0 -n 8 --audio "$audio" "What is this sound?" > /dev/null
report "after an audio turn"
