#!/bin/sh
# Takes the Debian package build_deb.sh made from the build tree, checks its control data, then
# installs it with the real dpkg into a temporary root (dpkg --root, maintainer scripts run
# with DPKG_ROOT set, as dpkg does for such installs) and checks what the maintainer scripts
# did: the tocsin user, the secrets directory, the unit enabled; the installed binary checks
# the installed config clean; an upgrade keeps an edited conffile; purge removes the state.
# The service started, stopped and cleaned up by a running systemd: systemd_test.sh.
set -eu
build=$1
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: installing a package (even into a temporary root) needs root"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The package the fixture test Package.CpackBuildsTheDeb made (build_deb.sh).
deb=$(ls "$build"/tests/install/deb/tocsin_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no package in $build/tests/install/deb: run the test Package.CpackBuildsTheDeb"

# Control data: dependencies computed from the binary, conffiles, maintainer scripts.
dpkg-deb --field "$deb" Depends >"$tmp/depends"
for lib in libcurl4 libssl3 libsqlite3-0 libyaml-cpp tzdata; do
  grep -q "$lib" "$tmp/depends" || fail "Depends lacks $lib: $(cat "$tmp/depends")"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t >"$tmp/control-files"
for f in postinst prerm postrm conffiles; do
  grep -q "^./$f\$" "$tmp/control-files" || fail "control.tar has no $f"
done
dpkg-deb --info "$deb" conffiles >"$tmp/conffiles"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\.||' >"$tmp/contents"
grep '^/etc/.*[^/]$' "$tmp/contents" | sort >"$tmp/etc-files"
sort "$tmp/conffiles" | diff -u "$tmp/etc-files" - || fail "conffiles differ from the files under /etc"
for f in /usr/bin/tocsin /usr/lib/systemd/system/tocsin.service /usr/lib/sysusers.d/tocsin.conf \
         /etc/tocsin/tocsin.yaml /etc/tocsin/roster.yaml /etc/tocsin/rules/payments.yaml \
         /etc/tocsin/runbooks/deposit-psp.md; do
  grep -qx "$f" "$tmp/contents" || fail "package lacks $f"
done

# A real install into an empty root: dpkg's database, the scripts run outside a chroot.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available" "$root/etc/passwd" \
      "$root/etc/group" "$root/etc/shadow" "$root/etc/gshadow"
export PATH="/usr/sbin:/usr/bin:/sbin:/bin"
dpkg_root() {
  dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null "$@"
}
dpkg_root -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i"; }
grep -q '^tocsin:' "$root/etc/passwd" || fail "postinst created no tocsin user"
gid=$(awk -F: '$1 == "tocsin" { print $3 }' "$root/etc/group")
[ -n "$gid" ] || fail "postinst created no tocsin group"
[ "$(stat -c '%a %u %g' "$root/etc/tocsin/secrets")" = "750 0 $gid" ] ||
  fail "secrets dir is $(stat -c '%a %u %g' "$root/etc/tocsin/secrets"), want 750 0 $gid"
[ -L "$root/etc/systemd/system/multi-user.target.wants/tocsin.service" ] ||
  fail "postinst did not enable tocsin.service"
grep -q '\.\./rules\|\.\./runbooks' "$root/etc/tocsin/tocsin.yaml" &&
  fail "installed tocsin.yaml still points outside /etc/tocsin"
"$root/usr/bin/tocsin" check --config "$root/etc/tocsin/tocsin.yaml" >"$tmp/check.log" 2>&1 ||
  { cat "$tmp/check.log"; fail "installed config does not check clean"; }

# Upgrade (same version again): an operator's edit of a conffile is kept, the unit's enabled
# state is left as the operator set it.
echo "# edited by the operator" >>"$root/etc/tocsin/roster.yaml"
rm "$root/etc/systemd/system/multi-user.target.wants/tocsin.service"
dpkg_root --force-confold -i "$deb" >"$tmp/upgrade.log" 2>&1 || { cat "$tmp/upgrade.log"; fail "upgrade"; }
grep -q "edited by the operator" "$root/etc/tocsin/roster.yaml" || fail "upgrade lost the edit"
[ -L "$root/etc/systemd/system/multi-user.target.wants/tocsin.service" ] &&
  fail "upgrade re-enabled a unit the operator disabled"

# Remove keeps conffiles and state; purge removes them.
mkdir -p "$root/var/lib/tocsin" && echo state >"$root/var/lib/tocsin/tocsin.db"
dpkg_root -r tocsin >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "dpkg -r"; }
[ ! -e "$root/usr/bin/tocsin" ] || fail "remove left the binary"
[ -e "$root/var/lib/tocsin/tocsin.db" ] || fail "remove deleted the state"
[ -e "$root/etc/tocsin/roster.yaml" ] || fail "remove deleted a conffile"
dpkg_root -P tocsin >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg -P"; }
[ ! -e "$root/var/lib/tocsin" ] || fail "purge left /var/lib/tocsin"
[ ! -e "$root/etc/tocsin" ] || fail "purge left /etc/tocsin: $(ls -R "$root/etc/tocsin")"
echo "package ok: $(basename "$deb")"
