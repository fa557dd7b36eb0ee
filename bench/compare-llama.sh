#!/usr/bin/env bash
# gemmad against llama.cpp on the same GGUF files and machine, runs alternated (llama.cpp,
# gemmad, llama.cpp, gemmad, ...) so background load hits both alike; prints each round and
# the median ratios gemmad / llama.cpp (docs/PERFORMANCE.md).
#
# llama.cpp is never fetched or built here: LLAMA_CPP_BUILD names a build made outside this
# repository (the directory holding bin/llama-bench).
#
# Usage: LLAMA_CPP_BUILD=DIR bench/compare-llama.sh [--rounds N] [--prefill N] [--gen N]
#            [--threads N] [--gemmactl PATH] MODEL.gguf...
# Defaults: 2 rounds, pp512, 128 generated tokens, 2 threads, build/clients/gemmactl/gemmactl.
set -euo pipefail

rounds=2 prefill=512 gen=128 threads=2
gemmactl="$(dirname "$0")/../build/clients/gemmactl/gemmactl"
usage() {
  echo "usage: LLAMA_CPP_BUILD=DIR $0 [--rounds N] [--prefill N] [--gen N] [--threads N]" \
       "[--gemmactl PATH] MODEL.gguf..." >&2
  exit 2
}
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="${2:?}"; shift 2 ;;
    --prefill) prefill="${2:?}"; shift 2 ;;
    --gen) gen="${2:?}"; shift 2 ;;
    --threads) threads="${2:?}"; shift 2 ;;
    --gemmactl) gemmactl="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "compare-llama: unknown option $1" >&2; usage ;;
    *) models+=("$1"); shift ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || usage
for v in "$rounds" "$prefill" "$gen" "$threads"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "compare-llama: '$v' is not a count >= 1" >&2; exit 2; }
done
if [[ -z "${LLAMA_CPP_BUILD:-}" ]]; then
  echo "compare-llama: set LLAMA_CPP_BUILD to a llama.cpp build directory (with bin/llama-bench)" >&2
  exit 2
fi
llama_bench="$LLAMA_CPP_BUILD/bin/llama-bench"
[[ -x "$llama_bench" ]] || { echo "compare-llama: $llama_bench is not an executable" >&2; exit 2; }
[[ -x "$gemmactl" ]] || { echo "compare-llama: $gemmactl is not an executable (--gemmactl)" >&2; exit 2; }
for m in "${models[@]}"; do
  [[ -r "$m" ]] || { echo "compare-llama: cannot read $m" >&2; exit 2; }
done

py=/usr/bin/python3
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %5s %12s %12s %12s %12s %8s %8s\n' model round llama_pp ours_pp llama_tg ours_tg \
  pp_ratio tg_ratio
for m in "${models[@]}"; do
  for r in $(seq 1 "$rounds"); do
    "$llama_bench" -m "$m" -p "$prefill" -n "$gen" -t "$threads" -r 1 -o json \
      > "$out/llama.json" 2> "$out/llama.err" || { cat "$out/llama.err" >&2; exit 1; }
    "$gemmactl" bench --model "$m" --prefill "$prefill" --contexts 0 --gen-tokens "$gen" \
      --threads "$threads" --no-probe --json > "$out/ours.json"
    "$py" - "$out/llama.json" "$out/ours.json" "$m" "$r" "$prefill" "$gen" >> "$out/rows" <<'PY'
import json, os, sys
llama = json.load(open(sys.argv[1]))
ours = json.load(open(sys.argv[2]))
prefill, gen = int(sys.argv[5]), int(sys.argv[6])
pp = next(t["avg_ts"] for t in llama if t["n_prompt"] == prefill and t["n_gen"] == 0)
tg = next(t["avg_ts"] for t in llama if t["n_gen"] == gen and t["n_prompt"] == 0)
print(os.path.basename(sys.argv[3]), sys.argv[4], pp, ours["prefill_tok_s"], tg,
      ours["decode_tok_s"], ours["kernels"])
PY
    tail -n 1 "$out/rows" | awk '{printf "%-28s %5s %12.2f %12.2f %12.2f %12.2f %7.2fx %7.2fx\n",
      $1, $2, $3, $4, $5, $6, $4 / $3, $6 / $5}'
  done
done
"$py" - "$out/rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for model in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == model]
    pp = statistics.median(float(r[3]) / float(r[2]) for r in mine)
    tg = statistics.median(float(r[5]) / float(r[4]) for r in mine)
    print(f"median gemmad ({mine[0][6]}) / llama.cpp, {model}: prefill {pp:.2f}x, "
          f"decode {tg:.2f}x ({len(mine)} alternated rounds)")
PY
