#!/usr/bin/env bash
# The test command of the README: builds gemmad with warnings as errors and runs every test
# (unit, reference, integration) with ctest. BUILD_DIR and CMAKE_ARGS may be overridden.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/fetch-tokenizer.sh"
"$root/scripts/fetch-npm-test-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEMMAD_WERROR=ON \
  ${CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" ${CTEST_ARGS:-}
