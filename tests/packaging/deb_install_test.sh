#!/usr/bin/env bash
# Installs the built .debs on this machine (as root) and checks what Debian policy and the
# packaging promise: files, conffile, user, groups and directories, the socket enabled; the
# installed gemmad and gemmactl (and the Python module) serving a tiny model made by the
# installed gemmactl; a reinstall (upgrade path) keeps state and a changed conffile; `dpkg -r`
# keeps configuration and state; `dpkg -P` removes them and leaves the system user.
#
#   tests/packaging/deb_install_test.sh [DIST_DIR]
#
# systemd is not PID 1 on CI machines: the maintainer scripts then enable units without
# starting them, so this script starts the installed daemon itself, as the gemmad user.
set -euo pipefail
DIST=${1:-dist}
ARCH=$(dpkg --print-architecture)
passed=0
failed=0
ok() {
  echo "ok: $*"
  passed=$((passed + 1))
}
bad() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}
check() { # check DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
  echo "deb_install_test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

[ "$(id -u)" -eq 0 ] || { echo "deb_install_test: needs root (dpkg -i)" >&2; exit 1; }
shopt -s nullglob
debs=("$DIST"/gemmad_*_"$ARCH".deb "$DIST"/gemmactl_*_"$ARCH".deb "$DIST"/python3-gemmad_*_all.deb)
[ "${#debs[@]}" -eq 3 ] || { echo "deb_install_test: expected 3 packages in $DIST, found: ${debs[*]}" >&2; exit 1; }

# A machine reused from an earlier run: start from nothing installed.
dpkg -P gemmad gemmactl python3-gemmad >/dev/null 2>&1 || true

dpkg -i "${debs[@]}"

# Files.
for f in /usr/sbin/gemmad /usr/bin/gemmactl /lib/systemd/system/gemmad.service \
  /lib/systemd/system/gemmad.socket /usr/lib/sysusers.d/gemmad.conf \
  /usr/lib/tmpfiles.d/gemmad.conf /etc/gemmad/gemmad.toml /usr/share/man/man8/gemmad.8.gz \
  /usr/share/man/man5/gemmad.toml.5.gz /usr/share/man/man1/gemmactl.1.gz \
  /usr/share/bash-completion/completions/gemmactl /usr/share/zsh/vendor-completions/_gemmactl \
  /usr/share/doc/gemmad/copyright /usr/lib/python3/dist-packages/gemmad_client.py \
  /usr/lib/python3/dist-packages/gemmad_pb2.py; do
  check "installed $f" test -e "$f"
done
check "gemmad.toml is a conffile" grep -qx /etc/gemmad/gemmad.toml /var/lib/dpkg/info/gemmad.conffiles

# User, groups, directories.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd gemmad) || true
check "system user gemmad (uid $uid < 1000, home $home)" test "${uid:-99999}" -lt 1000 -a "$home" = /var/lib/gemmad
check "gemmad has no login shell ($shell)" test "$shell" = /usr/sbin/nologin
check "group gemmad-admin" sh -c "getent group gemmad-admin >/dev/null"
for d in /var/lib/gemmad /var/lib/gemmad/models; do
  check "$d is gemmad:gemmad 750" test "$(stat -c '%U:%G %a' "$d")" = "gemmad:gemmad 750"
done

# Units: the socket enabled (deb-systemd-helper made the symlink), the service not.
check "gemmad.socket enabled" test -L /etc/systemd/system/sockets.target.wants/gemmad.socket
check "gemmad.service not enabled (socket-activated)" test ! -e /etc/systemd/system/multi-user.target.wants/gemmad.service
check "installed units verify" systemd-analyze verify --man=no /lib/systemd/system/gemmad.socket /lib/systemd/system/gemmad.service

# The installed binaries against a tiny model that the installed gemmactl writes.
MODEL=/var/lib/gemmad/models/tiny.gguf
check "gemmactl model synth" setpriv --reuid=gemmad --regid=gemmad --init-groups \
  /usr/bin/gemmactl model synth --preset tiny -o "$MODEL"
RUN=$(mktemp -d /tmp/gemmad-deb-run.XXXXXX)
chown gemmad:gemmad "$RUN"
SOCK=$RUN/gemmad.sock
setpriv --reuid=gemmad --regid=gemmad --init-groups /usr/sbin/gemmad --config /etc/gemmad/gemmad.toml \
  --model "$MODEL" --state-dir /var/lib/gemmad --socket "$SOCK" 2>"$RUN/gemmad.log" &
pid=$!
# Wait for the socket (or the daemon's exit), at most 60 s.
for _ in $(seq 600); do
  [ -S "$SOCK" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
check "installed gemmad listens" test -S "$SOCK"
reply=$(gemmactl --socket "$SOCK" chat --new --temp 0 -n 8 --json "Hello from the package test" 2>&1) || true
check "gemmactl chat through the installed daemon" /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d["session"] and d["usage"]["completion_tokens"] > 0 else 1)' "$reply"
status=$(gemmactl --socket "$SOCK" status --json 2>&1) || true
check "gemmactl status names the model" grep -q tiny <<<"$status"
check "installed Python client talks to the daemon" /usr/bin/python3 -c "
import sys, gemmad_client
with gemmad_client.Client(sys.argv[1]) as c:
    c.hello('deb-test')
    sys.exit(0 if c.status().pid > 0 else 1)
" "$SOCK"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
check "gemmad exits 0 on SIGTERM (rc $rc)" test "$rc" -eq 0
check "session database in /var/lib/gemmad" test -s /var/lib/gemmad/gemmad.db
rm -rf "$RUN"

# Upgrade path (reinstall): state and a changed conffile stay.
echo "# changed by the administrator" >>/etc/gemmad/gemmad.toml
dpkg -i "${debs[@]}" >/dev/null
check "reinstall keeps the changed conffile" grep -q "changed by the administrator" /etc/gemmad/gemmad.toml
check "reinstall keeps the database" test -s /var/lib/gemmad/gemmad.db
check "reinstall keeps the models" test -s "$MODEL"

# Remove: programs gone, configuration and state kept.
dpkg -r gemmad gemmactl python3-gemmad
check "remove deletes the daemon" test ! -e /usr/sbin/gemmad
check "remove deletes the client" test ! -e /usr/bin/gemmactl
check "remove deletes the Python module" test ! -e /usr/lib/python3/dist-packages/gemmad_client.py
check "remove keeps the conffile" test -e /etc/gemmad/gemmad.toml
check "remove keeps the database" test -s /var/lib/gemmad/gemmad.db
check "remove keeps the models" test -s "$MODEL"
check "gemmad is in state config-files" test "$(dpkg-query -W -f '${db:Status-Status}' gemmad)" = config-files

# Purge: configuration, state and unit links gone; the system user stays (postrm says why).
dpkg -P gemmad gemmactl python3-gemmad
check "purge deletes /etc/gemmad" test ! -e /etc/gemmad
check "purge deletes /var/lib/gemmad" test ! -e /var/lib/gemmad
check "purge drops the socket's enable link" test ! -e /etc/systemd/system/sockets.target.wants/gemmad.socket
check "purge leaves no mask" test ! -e /etc/systemd/system/gemmad.socket -a ! -e /etc/systemd/system/gemmad.service
check "purge leaves the system user" sh -c "getent passwd gemmad >/dev/null"
purged=$(dpkg-query -W -f '${db:Status-Status}' gemmad 2>/dev/null) || true
check "dpkg lists gemmad as not installed ('$purged')" test -z "$purged" -o "$purged" = not-installed

finish
