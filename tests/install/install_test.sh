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
echo "install layout ok"
