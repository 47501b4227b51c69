#!/bin/sh
# Builds the Debian package once for the package tests (CTest fixture TocsinDeb): CPack from the
# build tree into <build>/tests/install/deb, replacing what an earlier run left there.
set -eu
build=$1
out="$build/tests/install/deb"
rm -rf "$out"
mkdir -p "$out"
if ! (cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1); then
  cat "$out/cpack.log"; echo "FAIL: cpack"; exit 1
fi
rm -rf "$out/_CPack_Packages"
ls "$out"/tocsin_*_amd64.deb >/dev/null 2>&1 || { cat "$out/cpack.log"; echo "FAIL: cpack made no tocsin_*_amd64.deb"; exit 1; }
echo "built $(ls "$out"/tocsin_*_amd64.deb)"
