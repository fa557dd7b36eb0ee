#!/usr/bin/env bash
# Installs what cross-building gemmad for arm64 and testing it under qemu-user needs (Debian 12):
# Debian's aarch64 cross compiler, qemu-user, and the :arm64 libraries through multiarch.
# Exits non-zero when the arm64 package index or a package cannot be had; the CI's arm64 job
# treats that as "skipped", never as a failure of the native build.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO dpkg --add-architecture arm64
# apt-get update succeeds with only a warning when one index fails: check for the arm64 one.
$SUDO apt-get update -q
apt-cache policy libc6:arm64 | grep -q "Candidate: [0-9]" || {
  echo "install-deps-arm64: no arm64 package index (apt-get update could not fetch it)" >&2
  exit 1
}
$SUDO apt-get install -y -q --no-install-recommends \
  g++-aarch64-linux-gnu qemu-user \
  libboost1.81-dev:arm64 libprotobuf-dev:arm64 libsqlite3-dev:arm64 libspdlog-dev:arm64 \
  libfmt-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libsystemd-dev:arm64 \
  libseccomp-dev:arm64 libtomlplusplus-dev:arm64 libstdc++-12-dev:arm64 libedit-dev:arm64 \
  libpng-dev:arm64 libjpeg62-turbo-dev:arm64 libsoxr-dev:arm64 libopenblas-dev:arm64
