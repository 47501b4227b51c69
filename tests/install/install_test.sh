#!/bin/sh
# Installs the build into a temporary prefix and checks the layout: binary, unit, config,
# roster, rules and runbooks in place, and the installed config valid as installed.
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tocsin etc/tocsin/tocsin.yaml etc/tocsin/roster.yaml etc/tocsin/runbooks/deposit-psp.md \
         etc/tocsin/rules/payments.yaml lib/systemd/system/tocsin.service lib/sysusers.d/tocsin.conf; do
  [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
if grep -q '\.\./rules\|\.\./runbooks' "$prefix/etc/tocsin/tocsin.yaml"; then
  echo "installed tocsin.yaml still points outside /etc/tocsin"; exit 1
fi
"$prefix/bin/tocsin" check --config "$prefix/etc/tocsin/tocsin.yaml"

# The unit as systemd reads it (offline: no running systemd is needed): every directive known
# and the ExecStart binary present, and the hardening kept. `security` scores exposure from 0
# (locked down) to 10; --threshold takes tenths, so 20 fails the test above 2.0 ("OK" in
# systemd's words; today 1.6). The installed binary stands in for /usr/bin/tocsin.
unit="$prefix/tocsin.service"
sed "s|/usr/bin/tocsin|$prefix/bin/tocsin|" "$prefix/lib/systemd/system/tocsin.service" > "$unit"
# verify exits 0 on an unknown key and only says so: any word from it is a failure.
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$unit" > "$prefix/verify.txt" 2>&1 || true
if [ -s "$prefix/verify.txt" ]; then
  cat "$prefix/verify.txt"; echo "systemd-analyze verify found problems in the unit"; exit 1
fi
if ! systemd-analyze security --offline=yes --threshold=20 "$unit" > "$prefix/security.txt"; then
  cat "$prefix/security.txt"
  echo "the unit's exposure rose above 2.0: a hardening option was dropped"; exit 1
fi
echo "install layout ok"
