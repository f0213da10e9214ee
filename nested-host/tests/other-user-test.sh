#!/bin/bash
# Issue 20: the nested host's libvirtd is reachable only by the runner.
#
#   other-user-test.sh <ezone> <plugin dir> <suite> <work dir>
#
# As root: runs one kvm@nested check and, while it runs, a throwaway local
# user finds the nested host's forwarded port in the QEMU command line (as
# anyone can, in /proc) and tries to use it: plain TCP, TLS with the
# runner's client certificate (unreadable to it), and TLS with a certificate
# of its own. Every attempt must fail, while the runner's own credentials
# work (so the attempts were made against a live libvirtd). Afterwards the
# check passes and its credentials directory is gone. Then a second run is
# SIGKILLed: its credentials directory must go too. Skips (77) when not
# root (only root can make the user) or without virsh.
set -euo pipefail
ezone=$1 plugins=$2 suite=$3 work=$4
if (($(id -u) != 0)); then
	echo "SKIP: making a throwaway user needs root"
	exit 77
fi
command -v virsh >/dev/null || { echo "SKIP: virsh not installed"; exit 77; }
user="ezone-o$$"
rm -rf "$work"
mkdir -p "$work"
runner=
cleanup() {
	[[ -n $runner ]] && kill -KILL "$runner" 2>/dev/null && wait "$runner" 2>/dev/null
	pkill -KILL -u "$user" 2>/dev/null || true
	userdel "$user" 2>/dev/null || true
	rm -rf "$work/attacker"
}
trap cleanup EXIT
useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$user"
as_user() { runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME=/nonexistent "$@"; }

# The QEMU of the nested host our runner started: its forwarded port and
# the directory of its fw_cfg items, from /proc/<pid>/cmdline.
find_nested_qemu() {
	local pid cmd
	for pid in $(pgrep -P "$runner" -f 'opt/ezone/cacert.pem' || true); do
		cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
		[[ $cmd =~ hostfwd=tcp:127\.0\.0\.1:([0-9]+)- ]] || continue
		port=${BASH_REMATCH[1]}
		[[ $cmd =~ file=(/[^ ,]*)/host/cacert\.pem ]] || continue
		creds=${BASH_REMATCH[1]}
		return 0
	done
	return 1
}
wait_for_nested_qemu() {
	for _ in $(seq 600); do
		find_nested_qemu && return 0
		kill -0 "$runner" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# --- 1: a whole check, attacked while it runs ---------------------------------
"$ezone" --plugin-dir "$plugins" run "$suite" --report-dir "$work/reports" > "$work/run1.log" 2>&1 &
runner=$!
wait_for_nested_qemu || { echo "FAIL: no nested host QEMU appeared"; cat "$work/run1.log"; exit 1; }
# The runner's own credentials work once libvirtd is up (a few seconds into
# the boot): the attempts below are made against a live libvirtd. The QEMU
# is looked for again on every try: the first one found may be the template
# host whose state the check saves before it restores its own.
up=0
for _ in $(seq 120); do
	find_nested_qemu || { sleep 0.5; continue; }
	tls="qemu+tls://127.0.0.1:$port/system"
	if virsh -q -c "$tls?pkipath=$creds/client" list --all > /dev/null 2>&1; then up=1; break; fi
	sleep 0.5
done
((up)) || { echo "FAIL: the runner's own credentials did not reach libvirtd"; cat "$work/run1.log"; exit 1; }
echo "nested host: libvirtd forwarded from 127.0.0.1:$port, credentials in $creds"
stat -c '%A %U %n' "$creds"
[[ $(stat -c %a "$creds") == 700 ]] || { echo "FAIL: $creds is not 0700"; exit 1; }
echo "runner ($(id -un)): $tls?pkipath=$creds/client: connected"

failures=0
attempt() {
	local what=$1; shift
	local out rc
	set +e
	out=$(as_user timeout 30 "$@" 2>&1)
	rc=$?
	set -e
	if ((rc == 0)); then
		echo "FAIL: $user reached the nested host's libvirtd ($what): $out"
		failures=$((failures + 1))
	else
		echo "refused, as it should be ($what, exit $rc): $(echo "$out" | grep -v " info : " | tail -2 | tr "\n" " ")"
	fi
}
attempt "plain TCP, no auth" virsh -q -c "qemu+tcp://127.0.0.1:$port/system" list --all
attempt "the runner's client certificate" virsh -q -c "$tls?pkipath=$creds/client" list --all
attempt "listing the runner's credentials" ls "$creds/client"
# A certificate of the user's own (its own CA), server check off: the
# nested libvirtd must refuse a client certificate it did not issue.
mkdir -p "$work/attacker" && chmod 0755 "$work" && chown "$user:" "$work/attacker"
as_user sh -c "cd '$work/attacker' &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cakey.pem \
		-out cacert.pem -days 1 -subj '/CN=attacker CA' -addext basicConstraints=critical,CA:TRUE &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout clientkey.pem \
		-out client.csr -subj '/CN=ezone runner' &&
	openssl x509 -req -in client.csr -CA cacert.pem -CAkey cakey.pem -set_serial 1 -days 1 \
		-out clientcert.pem" > /dev/null 2>&1 || { echo "FAIL: could not make the attacker's certificate"; exit 1; }
attempt "a certificate of its own CA" virsh -q -c "$tls?pkipath=$work/attacker&no_verify=1" list --all

set +e
wait "$runner"
rc=$?
set -e
runner=
echo "ezone run exited $rc"
grep -E 'PASS|FAIL|ERROR|SKIP' "$work/run1.log" | tail -5 || true
((rc == 0)) || { echo "FAIL: the check did not pass"; cat "$work/run1.log"; exit 1; }
[[ ! -e $creds ]] || { echo "FAIL: $creds left behind"; ls -la "$creds"; exit 1; }
echo "credentials directory removed with the check"
((failures == 0)) || exit 1

# --- 2: the runner SIGKILLed mid-check ----------------------------------------
"$ezone" --plugin-dir "$plugins" run "$suite" --report-dir "$work/reports-killed" > "$work/run2.log" 2>&1 &
runner=$!
wait_for_nested_qemu || { echo "FAIL: no nested host QEMU appeared (run 2)"; cat "$work/run2.log"; exit 1; }
kill -KILL "$runner"
wait "$runner" 2>/dev/null || true
runner=
gone=0
for _ in $(seq 100); do
	[[ -e $creds ]] || { gone=1; break; }
	sleep 0.1
done
((gone)) || { echo "FAIL: $creds left behind by a SIGKILLed runner"; ls -la "$creds"; exit 1; }
echo "credentials directory removed after the runner was SIGKILLed"
echo "PASS: another local user cannot reach the nested host's libvirtd"
