#!/bin/sh
# The Debian package under a real systemd: a minimal Debian 12 (mmdebstrap, built once and
# kept under the build tree) booted with systemd-nspawn as its PID 1, with its own network
# namespace (only loopback) and a throw-away overlay over the cached root, so every run starts
# from the same clean system. Inside, as an operator would:
#   dpkg -i             the postinst creates the user, enables and starts the unit; systemd
#                       reports it active only after tocsin said READY=1 (Type=notify);
#   the service         runs as the tocsin user, with no capabilities, no new privileges, a
#                       seccomp filter and a read-only /usr and /etc, answers /healthz, pings
#                       the watchdog, writes its store to /var/lib/tocsin, and its log lines
#                       reach journald with their priorities;
#   reload, stop,       SIGHUP re-reads the config in the same process; a clean stop;
#   upgrade             an upgrade restarts a running service;
#   apt-get remove      stops and disables the service, keeps the state and the config;
#   apt-get purge       removes them.
# Needs root, mmdebstrap and systemd-nspawn (scripts/bootstrap) and, the first time, Debian's
# mirror (TOCSIN_DEBIAN_MIRROR overrides it).
#   systemd_test.sh BUILD             the test (builds the root first when it is not cached)
#   systemd_test.sh BUILD --root-only only the root (the CTest fixture that runs beside the
#                                     other tests: on a clean tree mmdebstrap takes minutes)
set -eu
build=$(cd "$1" && pwd)
root_only=0
[ "${2:-}" = --root-only ] && root_only=1
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: booting a container with systemd needs root"; exit 77
fi
export PATH="/usr/sbin:/usr/bin:/sbin:/bin"
fail() { echo "FAIL: $*"; exit 1; }
for tool in mmdebstrap systemd-nspawn nsenter; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/bootstrap"
done
tmp=$(mktemp -d)
nspawn_pid=
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # SIGTERM asks the container's systemd to power off; SIGKILL if it has not within 20 s.
    kill "$nspawn_pid" 2>/dev/null || true
    i=0
    while kill -0 "$nspawn_pid" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.5; i=$((i + 1)); done
    kill -9 "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The package the fixture test Package.CpackBuildsTheDeb made (build_deb.sh).
deb=$(ls "$build"/tests/install/deb/tocsin_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no package in $build/tests/install/deb: run the test Package.CpackBuildsTheDeb"

# The root holds systemd, curl and the package's dependencies, so the test itself needs no
# network. Its name carries a hash of the Depends field: a new dependency builds a new root once.
# mmdebstrap rather than debootstrap: it installs through apt (which picks the provider of a
# virtual package such as libspdlog1.10-fmt9) in one pass, and faster.
depends=$(dpkg-deb --field "$deb" Depends)
packages=$(echo "systemd,systemd-sysv,dbus,curl,$depends" | tr ',' '\n' | sed 's/(.*)//; s/|.*//' |
           tr -d ' \t' | grep . | sort -u | paste -sd, -)
mirror=${TOCSIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$(printf 'bookworm minbase %s\n' "$packages" | sha256sum | cut -c1-12)
cache="$build/systemd-test"
rootfs="$cache/debian12-$key"
if [ ! -e "$rootfs/.complete" ]; then
  echo "building the Debian 12 root once (mmdebstrap from $mirror): $rootfs"
  rm -rf "$cache"
  mkdir -p "$cache"
  start=$(date +%s)
  mmdebstrap --mode=root --variant=minbase --include="$packages" bookworm "$rootfs.tmp" "$mirror" \
    >"$tmp/mmdebstrap.log" 2>&1 || { tail -n 30 "$tmp/mmdebstrap.log"; fail "mmdebstrap"; }
  touch "$rootfs.tmp/.complete"
  mv "$rootfs.tmp" "$rootfs"
  echo "the root took $(($(date +%s) - start)) s"
fi
if [ "$root_only" = 1 ]; then
  echo "Debian 12 root ready: $rootfs"
  exit 0
fi

# Boot. --volatile=overlay: writes go to a tmpfs over the cached root and vanish with the
# container. --register=no --keep-unit: no machined or host systemd needed.
cp "$deb" "$tmp/tocsin.deb"
start=$(date +%s)
# timeout: should this script be killed outright (a CTest timeout), the container still ends.
timeout --kill-after=20 600 systemd-nspawn --quiet --directory="$rootfs" --volatile=overlay \
  --boot --register=no --keep-unit --private-network --console=pipe --machine="tocsin-test-$$" \
  --bind-ro="$tmp/tocsin.deb:/root/tocsin.deb" </dev/null >"$tmp/console.log" 2>&1 &
nspawn_pid=$!
leader=
i=0
while [ -z "$leader" ] && [ $i -lt 100 ]; do
  kill -0 "$nspawn_pid" 2>/dev/null || { cat "$tmp/console.log"; fail "systemd-nspawn exited"; }
  for n in $(pgrep -P "$nspawn_pid" || true); do
    for p in $(pgrep -P "$n" || true); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && leader=$p
    done
  done
  [ -n "$leader" ] || { sleep 0.2; i=$((i + 1)); }
done
[ -n "$leader" ] || { cat "$tmp/console.log"; fail "no systemd in the container after 20 s"; }
# Runs a command in the container, with a clean environment.
ct() {
  nsenter --target "$leader" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
# Until PID 1 has its private socket, systemctl cannot connect at all: retry that part.
i=0
while :; do
  state=$(ct timeout 60 systemctl is-system-running --wait 2>&1 || true)
  case "$state" in *"connect to bus"*) ;; *) break ;; esac
  [ $i -lt 100 ] || break
  sleep 0.2; i=$((i + 1))
done
case "$state" in
  running) ;;
  *) ct systemctl --failed --no-pager || true; cat "$tmp/console.log"
     fail "the container's systemd is '$state', not running" ;;
esac
echo "container booted in $(($(date +%s) - start)) s"

# What went wrong with the service, shown before any failure below.
service_fail() {
  ct systemctl status tocsin.service --no-pager --lines=0 || true
  ct journalctl -u tocsin.service --no-pager -o short-precise | tail -n 40 || true
  fail "$*"
}
show() { ct systemctl show tocsin.service --value -p "$1"; }

# --- Install: the postinst enables and starts the service -------------------------------------
ct dpkg -i /root/tocsin.deb >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; service_fail "dpkg -i"; }
grep -q 'did not start' "$tmp/install.log" && { cat "$tmp/install.log"; service_fail "postinst: the service did not start"; }
[ "$(ct systemctl is-enabled tocsin.service || true)" = enabled ] || service_fail "postinst did not enable the unit"
[ "$(ct systemctl is-active tocsin.service || true)" = active ] || service_fail "tocsin is not active after install"
[ "$(show Type)" = notify ] || service_fail "unit type is $(show Type), want notify"
# Active means systemd got READY=1 on the notify socket; the status line came the same way.
case "$(show StatusText)" in
  "serving on port 9095") ;;
  *) service_fail "status from the notify socket is '$(show StatusText)', want 'serving on port 9095'" ;;
esac
pid=$(show MainPID)
[ "$pid" -gt 0 ] || service_fail "no main PID"
ct curl -fsS --max-time 5 http://127.0.0.1:9095/healthz >"$tmp/healthz" 2>&1 ||
  { cat "$tmp/healthz"; service_fail "/healthz did not answer"; }

# --- The hardening, as the kernel sees the running process --------------------------------------
status=$(ct cat "/proc/$pid/status")
uid=$(ct id -u tocsin) || service_fail "no tocsin user"
echo "$status" | grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]" ||
  service_fail "tocsin runs as $(echo "$status" | grep ^Uid), want uid $uid (tocsin)"
echo "$status" | grep -q '^CapEff:[[:space:]]*0000000000000000$' || service_fail "effective capabilities: $(echo "$status" | grep ^CapEff)"
echo "$status" | grep -q '^CapBnd:[[:space:]]*0000000000000000$' || service_fail "bounding capabilities: $(echo "$status" | grep ^CapBnd)"
echo "$status" | grep -q '^NoNewPrivs:[[:space:]]*1$' || service_fail "NoNewPrivs is not set"
echo "$status" | grep -q '^Seccomp:[[:space:]]*2$' || service_fail "no seccomp filter"
# ProtectSystem=strict: /usr and /etc read-only in the service's mount namespace, even for root;
# the state directory writable by the tocsin user.
ct nsenter --target "$pid" --mount sh -c \
  'for d in /usr /etc /etc/tocsin /var/lib; do
     touch "$d/.w" 2>/dev/null && { rm -f "$d/.w"; echo "$d is writable"; exit 1; }; done
   setpriv --reuid=tocsin --regid=tocsin --clear-groups touch /var/lib/tocsin/.w && rm /var/lib/tocsin/.w' \
  >"$tmp/ro.log" 2>&1 || { cat "$tmp/ro.log"; service_fail "ProtectSystem=strict does not hold"; }
[ "$(ct stat -c '%U %a' /var/lib/tocsin)" = "tocsin 750" ] ||
  service_fail "/var/lib/tocsin is $(ct stat -c '%U %a' /var/lib/tocsin), want tocsin 750"
ct test -s /var/lib/tocsin/tocsin.db || service_fail "no store in /var/lib/tocsin"

# --- Watchdog: systemd records every WATCHDOG=1; tocsin pings at half of WatchdogSec (30 s) ----
[ "$(show WatchdogUSec)" = 30s ] || service_fail "WatchdogUSec is $(show WatchdogUSec), want 30s"
first=$(show WatchdogTimestampMonotonic)
i=0
while [ "$(show WatchdogTimestampMonotonic)" = "$first" ] && [ $i -lt 40 ]; do
  sleep 0.5; i=$((i + 1))  # polls systemd's record; a ping is due every 15 s
done
[ "$(show WatchdogTimestampMonotonic)" != "$first" ] ||
  service_fail "no watchdog ping in 20 s (one is due every 15 s)"
[ "$(show MainPID)" = "$pid" ] || service_fail "tocsin restarted: the watchdog or a crash"

# --- journald: one entry per line, with the level as PRIORITY, no "<n>" prefix left ------------
ct journalctl -u tocsin.service -o json --no-pager --output-fields=PRIORITY,MESSAGE,_PID >"$tmp/journal.json"
grep "\"_PID\":\"$pid\"" "$tmp/journal.json" >"$tmp/tocsin.json" || service_fail "no log lines of tocsin in the journal"
grep -q '"PRIORITY":"6"' "$tmp/tocsin.json" || { cat "$tmp/tocsin.json"; service_fail "no info (priority 6) entry"; }
grep -q '"PRIORITY":"[0-4]"' "$tmp/tocsin.json" || { cat "$tmp/tocsin.json"; service_fail "no warning or worse (priority <= 4) entry: the Prometheus source is down"; }
grep -q '"MESSAGE":"<[0-7]>' "$tmp/tocsin.json" && { cat "$tmp/tocsin.json"; service_fail "a priority prefix reached the journal as text"; }

# --- Reload, stop, start, upgrade -----------------------------------------------------------------
# Reload is SIGHUP to the same process, which tells systemd RELOADING=1 and then READY=1.
ct systemctl reload tocsin.service || service_fail "systemctl reload"
i=0
while [ "$(show ActiveState)" != active ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(show ActiveState)" = active ] || service_fail "state after reload: $(show ActiveState)"
[ "$(show MainPID)" = "$pid" ] || service_fail "reload replaced the process"
i=0
until ct journalctl -u tocsin.service --no-pager -o cat | grep -q 'config reloaded from /etc/tocsin/tocsin.yaml'; do
  [ $i -lt 50 ] || service_fail "tocsin did not log the reload"
  sleep 0.2; i=$((i + 1))
done
ct systemctl stop tocsin.service || service_fail "systemctl stop"
[ "$(show ActiveState)" = inactive ] || service_fail "state after stop: $(show ActiveState)"
[ "$(show Result)" = success ] || service_fail "stop result: $(show Result)"
ct systemctl start tocsin.service || service_fail "systemctl start"
before=$(show MainPID)
ct dpkg -i /root/tocsin.deb >"$tmp/upgrade.log" 2>&1 || { cat "$tmp/upgrade.log"; service_fail "upgrade"; }
[ "$(ct systemctl is-active tocsin.service || true)" = active ] || service_fail "not active after upgrade"
[ "$(show MainPID)" != "$before" ] || service_fail "the upgrade did not restart tocsin"

# --- apt-get remove: stopped and disabled, state and config kept; purge: both gone ----------------
ct apt-get remove -y -q tocsin >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "apt-get remove"; }
[ "$(show ActiveState)" = inactive ] || fail "tocsin still $(show ActiveState) after remove"
ct sh -c 'grep -qsx tocsin /proc/[0-9]*/comm' && fail "a tocsin process survived remove"
ct test -e /etc/systemd/system/multi-user.target.wants/tocsin.service && fail "remove left the unit enabled"
ct test -e /usr/bin/tocsin && fail "remove left the binary"
ct test -s /var/lib/tocsin/tocsin.db || fail "remove deleted the store"
ct test -e /etc/tocsin/tocsin.yaml || fail "remove deleted the config"
ct apt-get purge -y -q tocsin >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "apt-get purge"; }
ct test -e /var/lib/tocsin && fail "purge left /var/lib/tocsin"
ct test -e /etc/tocsin && fail "purge left /etc/tocsin"
ct systemctl --failed --no-pager --plain --no-legend >"$tmp/failed" || true
[ -s "$tmp/failed" ] && { cat "$tmp/failed"; fail "failed units in the container"; }
echo "systemd ok: $(basename "$deb") installed, started, hardened, stopped, removed, purged"
