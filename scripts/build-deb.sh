#!/usr/bin/env bash
# Builds the Debian packages gemmad, gemmactl and python3-gemmad into dist/.
#
#   scripts/build-deb.sh [--arch amd64|arm64] [--build-dir DIR] [--out DIR]
#
# BUILD_TESTS=ON and EXTRA_TARGETS="t1 t2" also build those test targets in the same build
# directory (CI's arm64 job runs them under qemu-aarch64 from the build it packages).
# One CMake build (native, or cross through cmake/toolchains/aarch64-linux-gnu.cmake for arm64)
# is staged with `cmake --install`, split into the three package trees, and each tree is made
# a .deb with the dpkg toolchain: dpkg-shlibdeps (Depends from the ELF files' libraries),
# dpkg-gencontrol (control file from packaging/debian/control and changelog, Installed-Size)
# and dpkg-deb. Why not dh: one build feeds three packages and two architectures through the
# project's own toolchain file, with no source package to maintain; the maintainer scripts
# (packaging/debian/gemmad.*) are written out in full instead of generated.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ARCH=$(dpkg --print-architecture)
BUILD_DIR=""
OUT=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
NATIVE=$(dpkg --print-architecture)
case "$ARCH" in
  "$NATIVE") TOOLCHAIN=(); STRIP=strip ;;
  arm64)
    TOOLCHAIN=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchains/aarch64-linux-gnu.cmake")
    STRIP=aarch64-linux-gnu-strip ;;
  *) echo "build-deb.sh: --arch '$ARCH' is not supported (native $NATIVE, or arm64)" >&2; exit 2 ;;
esac
BUILD_DIR=${BUILD_DIR:-build-deb-$ARCH}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Debian's hardening flags for the target architecture, on top of the release build type.
# host_env CMD...: CMD with the DEB_HOST_* variables of --arch (the cross compiler named as CC,
# so dpkg-architecture does not warn about the native one).
host_env() {
  if [ "$ARCH" = "$NATIVE" ]; then "$@"; else CC=aarch64-linux-gnu-gcc dpkg-architecture -a"$ARCH" -c "$@"; fi
}
flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all host_env dpkg-buildflags --get "$1"; }
CPPFLAGS=$(flags CPPFLAGS)
CXXFLAGS="$CPPFLAGS $(flags CXXFLAGS)"
CFLAGS="$CPPFLAGS $(flags CFLAGS)"
LDFLAGS=$(flags LDFLAGS)

LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
echo "== build-deb: configure $ARCH in $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja "${TOOLCHAIN[@]}" "${LAUNCHER[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEMMAD_BUILD_TESTS="${BUILD_TESTS:-OFF}" -DGEMMAD_BUILD_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr -DGEMMAD_SYSTEMD_UNIT_DIR=/lib/systemd/system \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DCMAKE_C_FLAGS="$CFLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" >/dev/null
echo "== build-deb: build"
# shellcheck disable=SC2086
ninja -C "$BUILD_DIR" -j"${JOBS:-2}" gemmad gemmactl gemmad_proto_py ${EXTRA_TARGETS:-}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gemmad-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
umask 022
STAGE=$WORK/stage
DESTDIR=$STAGE cmake --install "$BUILD_DIR" >/dev/null

# dpkg-shlibdeps and dpkg-gencontrol read debian/control and debian/changelog of a source tree.
mkdir -p "$WORK/src/debian"
cp packaging/debian/control packaging/debian/changelog "$WORK/src/debian/"
VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)

# pkg_tree NAME: an empty package tree with its doc directory (copyright, changelog).
pkg_tree() {
  local d=$WORK/$1
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
  install -m 0644 packaging/debian/copyright "$d/usr/share/doc/$1/copyright"
  gzip -9n -c packaging/debian/changelog >"$d/usr/share/doc/$1/changelog.gz"
  chmod 0644 "$d/usr/share/doc/$1/changelog.gz"
}
# man_page TREE FILE SECTION
man_page() {
  mkdir -p "$1/usr/share/man/man$3"
  gzip -9n -c "packaging/man/$2" >"$1/usr/share/man/man$3/$2.gz"
  chmod 0644 "$1/usr/share/man/man$3/$2.gz"
}
strip_elf() {
  "$STRIP" --remove-section=.comment --remove-section=.note --strip-unneeded "$1"
}

# gemmad: daemon, units, sysusers/tmpfiles entries, config (a conffile), man pages, README.
G=$WORK/gemmad
pkg_tree gemmad
install -D -m 0755 "$STAGE/usr/sbin/gemmad" "$G/usr/sbin/gemmad"
strip_elf "$G/usr/sbin/gemmad"
mkdir -p "$G/lib/systemd/system" "$G/usr/lib/sysusers.d" "$G/usr/lib/tmpfiles.d" "$G/etc/gemmad"
install -m 0644 "$STAGE"/lib/systemd/system/gemmad.{service,socket} "$G/lib/systemd/system/"
install -m 0644 "$STAGE/usr/lib/sysusers.d/gemmad.conf" "$G/usr/lib/sysusers.d/"
install -m 0644 "$STAGE/usr/lib/tmpfiles.d/gemmad.conf" "$G/usr/lib/tmpfiles.d/"
install -m 0644 "$STAGE/etc/gemmad/gemmad.toml" "$G/etc/gemmad/"
install -m 0644 README.md "$G/usr/share/doc/gemmad/README.md"
man_page "$G" gemmad.8 8
man_page "$G" gemmad.toml.5 5
for s in postinst prerm postrm; do
  install -m 0755 "packaging/debian/gemmad.$s" "$G/DEBIAN/$s"
done
install -m 0644 packaging/debian/gemmad.conffiles "$G/DEBIAN/conffiles"

# gemmactl: the client, its man page, bash and zsh completion.
C=$WORK/gemmactl
pkg_tree gemmactl
install -D -m 0755 "$STAGE/usr/bin/gemmactl" "$C/usr/bin/gemmactl"
strip_elf "$C/usr/bin/gemmactl"
man_page "$C" gemmactl.1 1
install -D -m 0644 packaging/completions/gemmactl.bash "$C/usr/share/bash-completion/completions/gemmactl"
install -D -m 0644 packaging/completions/_gemmactl "$C/usr/share/zsh/vendor-completions/_gemmactl"

# python3-gemmad: the client module and its generated protobuf bindings.
P=$WORK/python3-gemmad
pkg_tree python3-gemmad
PYDIR=$P/usr/lib/python3/dist-packages
install -D -m 0644 clients/python/gemmad_client.py "$PYDIR/gemmad_client.py"
install -D -m 0644 "$BUILD_DIR/python/gemmad_pb2.py" "$PYDIR/gemmad_pb2.py"
install -m 0644 clients/python/README.md "$P/usr/share/doc/python3-gemmad/README.md"
install -D -m 0644 clients/python/chat.py "$P/usr/share/doc/python3-gemmad/examples/chat.py"

# Control files, md5sums, packages.
cd "$WORK/src"
for pkg in gemmad gemmactl python3-gemmad; do
  d=$WORK/$pkg
  subst=debian/$pkg.substvars
  echo "misc:Depends=" >"$subst"
  elves=$(find "$d" -type f -perm -0100 ! -path '*/DEBIAN/*' -exec sh -c \
    'head -c4 "$1" | grep -q "ELF" && echo "$1"' _ {} \;)
  if [ -n "$elves" ]; then
    # shellcheck disable=SC2086
    host_env dpkg-shlibdeps -T"$subst" $elves
  fi
  host_env dpkg-gencontrol -p"$pkg" -P"$d" -T"$subst" \
    -v"$VERSION" -fdebian/files
  (cd "$d" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$d/DEBIAN/md5sums" "$d/DEBIAN/control"
  pkg_arch=$(sed -n 's/^Architecture: //p' "$d/DEBIAN/control")
  dpkg-deb --root-owner-group -Zxz --build "$d" "$OUT/${pkg}_${VERSION}_${pkg_arch}.deb" >/dev/null
  echo "== build-deb: $OUT/${pkg}_${VERSION}_${pkg_arch}.deb ($(sed -n 's/^Installed-Size: //p' "$d/DEBIAN/control") KiB installed)"
done
