#!/bin/bash
# An ordinary user runs the smoke suite with an installed ezone: setup needs
# root, running QEMU checks does not (QEMU runs entirely in user space).
#
#   unprivileged_user_test.sh <build dir> <source dir>
#
# As root, makes a throwaway user, installs ezone into a scratch prefix, runs
# suites/smoke.xml as that user and removes user and files again. Skips (77)
# when not root: only root can make the user.
set -euo pipefail
build=$1 source=$2
if (($(id -u) != 0)); then
	echo "SKIP: making a throwaway user needs root"
	exit 77
fi
user="ezone-t$$"
work=$(mktemp -d /tmp/ezone-unpriv.XXXXXX)
cleanup() {
	pkill -KILL -u "$user" 2>/dev/null || true
	userdel "$user" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
useradd --no-create-home --home-dir "$work/home" --shell /bin/sh "$user"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cp "$source/suites/smoke.xml" "$work/smoke.xml"
mkdir -p "$work/home"
chown "$user:" "$work/home"
chmod 0755 "$work"
id "$user"

set +e
runuser -u "$user" -- env -i HOME="$work/home" PATH=/usr/bin:/bin \
	"$work/prefix/bin/ezone" run "$work/smoke.xml" --report-dir "$work/home/reports"
rc=$?
set -e
echo "ezone run as $user exited $rc"
junit=$work/home/reports/junit.xml
[[ -f $junit ]] || { echo "FAIL: no JUnit written"; exit 1; }
grep -o '<testsuite [^>]*>' "$junit"
((rc == 0)) || { echo "FAIL: the smoke suite did not pass for an ordinary user"; exit 1; }
# Nothing of the user's may be left running (no leaked QEMU).
if pgrep -u "$user" >/dev/null; then
	echo "FAIL: processes of $user left behind:"; pgrep -a -u "$user"; exit 1
fi
echo "PASS: an ordinary user ran the smoke suite"
