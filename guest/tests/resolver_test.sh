#!/bin/bash
# The kernel resolver (guest/resolve-kernel.sh) against a moving archive,
# played by STAND-IN apt-cache/apt-get (guest/tests/standin-apt) on PATH.
#
#   resolver_test.sh <case>
#
# Each case describes what the archive serves today and checks what the
# resolver downloads, records, says and leaves in the cache.
set -euo pipefail
case_name=${1:?case}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
resolver=$here/../resolve-kernel.sh
work=$(mktemp -d /tmp/ezone-resolver-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
cache=$work/cache
export STANDIN_APT_ARCHIVE=$work/archive
export PATH=$here/standin-apt:$PATH
export EZONE_APT_UPDATE=1

fail() { echo "FAIL [$case_name]: $*" >&2; echo "--- resolver stderr:" >&2; cat "$work/err" >&2 2>/dev/null || true; exit 1; }
pass() { echo "PASS [$case_name]: $*"; }

# kernel_set <abi-n> <version> [kbuild version]: the four packages of a set.
kernel_set() {
	local n=$1 v=$2 kb=${3-$2}
	echo "linux-image-6.1.0-$n-cloud-amd64-unsigned $v"
	echo "linux-headers-6.1.0-$n-cloud-amd64 $v"
	echo "linux-headers-6.1.0-$n-common $v"
	[[ -z $kb ]] || echo "linux-kbuild-6.1 $kb"
}

# resolve: runs the resolver for the pin 6.1.0-56 cloud-amd64; status in $rc.
resolve() {
	set +e
	"$resolver" 6.1.0-56 cloud-amd64 "$cache" 2> "$work/err"
	rc=$?
	set -e
}
env_has() { grep -qxF -- "$1" "$cache/resolved-6.1.0-56-cloud-amd64.env" || fail "env lacks '$1': $(cat "$cache/resolved-6.1.0-56-cloud-amd64.env")"; }
said() { grep -qF -- "$1" "$work/err" || fail "the resolver did not say '$1'"; }
no_env() { [[ ! -e $cache/resolved-6.1.0-56-cloud-amd64.env ]] || fail "a set was recorded although resolving failed"; }
debs_in_cache() { find "$cache" -name '*.deb' | wc -l; }

case $case_name in
all_pinned_served)
	kernel_set 55 6.1.190-1 > "$STANDIN_APT_ARCHIVE"
	kernel_set 56 6.1.192-2 >> "$STANDIN_APT_ARCHIVE"
	resolve
	((rc == 0)) || fail "exit $rc"
	env_has "ABI=6.1.0-56"; env_has "PINNED=true"; env_has "VERSION=6.1.192-2"
	env_has "PACKAGES=(linux-image-6.1.0-56-cloud-amd64-unsigned=6.1.192-2 linux-headers-6.1.0-56-cloud-amd64=6.1.192-2 linux-headers-6.1.0-56-common=6.1.192-2 linux-kbuild-6.1=6.1.192-2 )"
	(($(debs_in_cache) == 4)) || fail "expected 4 debs in the cache"
	pass "the pinned set, as served"
	;;
kbuild_moved)
	# The day of issue 13: kbuild replaced in place by a later upload.
	kernel_set 56 6.1.192-2 "" > "$STANDIN_APT_ARCHIVE"
	echo "linux-kbuild-6.1 6.1.176-1" >> "$STANDIN_APT_ARCHIVE"
	echo "linux-kbuild-6.1 6.1.192-3" >> "$STANDIN_APT_ARCHIVE"
	echo "linux-kbuild-6.1 6.1.193-1" >> "$STANDIN_APT_ARCHIVE"
	resolve
	((rc == 0)) || fail "exit $rc"
	env_has "PINNED=true"
	grep -q "linux-kbuild-6.1=6.1.192-3 )" "$cache/resolved-6.1.0-56-cloud-amd64.env" || fail "kbuild not 6.1.192-3"
	said "linux-kbuild-6.1=6.1.192-2 is not served; using linux-kbuild-6.1=6.1.192-3"
	pass "kbuild of the same upstream version, not 6.1.176 nor 6.1.193"
	;;
pinned_abi_gone)
	kernel_set 55 6.1.190-1 > "$STANDIN_APT_ARCHIVE"
	kernel_set 57 6.1.195-1 >> "$STANDIN_APT_ARCHIVE"
	# 58's set is incomplete (no common headers yet): not a candidate.
	echo "linux-image-6.1.0-58-cloud-amd64-unsigned 6.1.196-1" >> "$STANDIN_APT_ARCHIVE"
	echo "linux-headers-6.1.0-58-cloud-amd64 6.1.196-1" >> "$STANDIN_APT_ARCHIVE"
	resolve
	((rc == 0)) || fail "exit $rc"
	env_has "ABI=6.1.0-57"; env_has "PINNED=false"; env_has "VERSION=6.1.195-1"
	said "WARNING: the pinned kernel ABI 6.1.0-56-cloud-amd64 cannot be had as a whole set"
	pass "the newest whole set (57), loudly, pinned=false"
	;;
pinned_set_incomplete)
	# The pinned image is served but its common headers are not.
	kernel_set 56 6.1.192-2 | grep -v common > "$STANDIN_APT_ARCHIVE"
	kernel_set 57 6.1.195-1 >> "$STANDIN_APT_ARCHIVE"
	resolve
	((rc == 0)) || fail "exit $rc"
	env_has "ABI=6.1.0-57"; env_has "PINNED=false"
	pass "a pin whose set is not whole is not used"
	;;
no_kernel_served)
	echo "linux-image-6.12.0-1-cloud-amd64-unsigned 6.12.5-1" > "$STANDIN_APT_ARCHIVE"
	echo "hello 2.10-3" >> "$STANDIN_APT_ARCHIVE"
	resolve
	((rc != 0)) || fail "succeeded with no 6.1 kernel served"
	said "no complete Debian 6.1 kernel set of flavour cloud-amd64 is served"
	said "linux-image-<abi>-cloud-amd64-unsigned"
	said "6.1.0-56: linux-image-6.1.0-56-cloud-amd64-unsigned is not served"
	no_env
	pass "a clear error naming what was looked for"
	;;
partial_download)
	# The mirror loses one package of the set; apt-get update does not help.
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	export STANDIN_APT_DROP=linux-headers-6.1.0-56-common STANDIN_APT_ARCHIVE_AFTER_UPDATE=$STANDIN_APT_ARCHIVE
	EZONE_APT_UPDATE=0 resolve
	((rc != 0)) || fail "succeeded with a package missing"
	said "apt-get: E: Failed to fetch"
	said "not downloaded intact: linux-headers-6.1.0-56-common=6.1.192-2"
	no_env
	pass "apt's own words and the missing package named"
	;;
truncated_download)
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	export STANDIN_APT_TRUNCATE=linux-kbuild-6.1
	resolve
	((rc != 0)) || fail "succeeded with a truncated deb"
	said "discarding the unreadable linux-kbuild-6.1_6.1.192-2_amd64.deb"
	said "not downloaded intact: linux-kbuild-6.1=6.1.192-2"
	[[ ! -e $cache/linux-kbuild-6.1_6.1.192-2_amd64.deb ]] || fail "the truncated deb was left in the cache"
	no_env
	pass "a truncated deb is discarded, never used"
	;;
flaky_download)
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	export STANDIN_APT_FLAKY=linux-image-6.1.0-56-cloud-amd64-unsigned
	resolve
	((rc == 0)) || fail "exit $rc"
	grep -c '^apt-get download' "$STANDIN_APT_ARCHIVE.calls" | grep -qx 2 || fail "expected a second download"
	tail -n1 "$STANDIN_APT_ARCHIVE.calls" | grep -qx "apt-get download -q linux-image-6.1.0-56-cloud-amd64-unsigned=6.1.192-2" ||
		fail "the retry fetched more than the missing package: $(tail -n1 "$STANDIN_APT_ARCHIVE.calls")"
	pass "a lost package is fetched again, alone"
	;;
stale_lists)
	# The lists say 6.1.192-2 of kbuild; the mirror has moved on to -3.
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	kernel_set 56 6.1.192-2 "" > "$work/after"; echo "linux-kbuild-6.1 6.1.192-3" >> "$work/after"
	export STANDIN_APT_DROP=linux-kbuild-6.1 STANDIN_APT_ARCHIVE_AFTER_UPDATE=$work/after
	if (($(id -u) != 0)); then echo "SKIP [$case_name]: apt-get update is only run as root"; exit 77; fi
	resolve
	((rc == 0)) || fail "exit $rc"
	said "running apt-get update once"
	grep -q "linux-kbuild-6.1=6.1.192-3 )" "$cache/resolved-6.1.0-56-cloud-amd64.env" || fail "kbuild not 6.1.192-3"
	pass "stale lists: one apt-get update, then the set served today"
	;;
cached_offline)
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	resolve
	((rc == 0)) || fail "first run: exit $rc"
	# The archive vanishes: the cached set must serve, offline.
	: > "$STANDIN_APT_ARCHIVE"; : > "$STANDIN_APT_ARCHIVE.calls"
	resolve
	((rc == 0)) || fail "offline run: exit $rc"
	said "using the cached kernel set for 6.1.0-56-cloud-amd64 (offline"
	[[ ! -s $STANDIN_APT_ARCHIVE.calls ]] || fail "apt-get was called although the set was cached"
	# A cached deb damaged since: not trusted, fetched again.
	kernel_set 56 6.1.192-2 > "$STANDIN_APT_ARCHIVE"
	damaged=("$cache"/linux-headers-6.1.0-56-common_6.1.192-2_*.deb)
	[[ -f ${damaged[0]} ]] || fail "no cached deb of the common headers"
	truncate -s 100 "${damaged[0]}"
	resolve
	((rc == 0)) || fail "after damage: exit $rc"
	said "discarding the unreadable linux-headers-6.1.0-56-common_6.1.192-2"
	pass "offline from the cache; a damaged cached deb is fetched again"
	;;
source_same_upstream)
	# The kernel's source for LKDTM: replaced in place like kbuild.
	{ echo "linux-source-6.1 6.1.190-1"; echo "linux-source-6.1 6.1.192-3"; } > "$STANDIN_APT_ARCHIVE"
	set +e; "$resolver" --source 6.1.192-2 "$cache" 2> "$work/err"; rc=$?; set -e
	((rc == 0)) || fail "exit $rc"
	grep -qxF "PACKAGES=(linux-source-6.1=6.1.192-3 )" "$cache/resolved-source-6.1.192-2.env" || fail "not 6.1.192-3"
	said "linux-source-6.1=6.1.192-2 is not served; using linux-source-6.1=6.1.192-3"
	: > "$STANDIN_APT_ARCHIVE"
	set +e; "$resolver" --source 6.1.192-2 "$cache" 2> "$work/err"; rc=$?; set -e
	((rc == 0)) || fail "offline: exit $rc"
	# Another upstream version is never taken.
	echo "linux-source-6.1 6.1.190-1" > "$STANDIN_APT_ARCHIVE"
	set +e; "$resolver" --source 6.1.195-1 "$cache" 2> "$work/err"; rc=$?; set -e
	((rc != 0)) || fail "took the source of another upstream version"
	said "linux-source-6.1 of upstream 6.1.195 is not served"
	pass "the source of the same upstream version, cached"
	;;
*) echo "unknown case $case_name" >&2; exit 2 ;;
esac
