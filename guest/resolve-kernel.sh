#!/bin/bash
# Resolve and download a Debian kernel as a consistent set of packages:
#
#   linux-image-<abi>-<flavour>-unsigned   ABI-versioned \
#   linux-headers-<abi>-<flavour>          ABI-versioned  > one source version V
#   linux-headers-<abi>-common             ABI-versioned /
#   linux-kbuild-<major>                   not ABI-versioned: V, else the newest
#                                          served version of V's upstream version
#
# Debian's archive moves under a pin: security updates replace packages every
# few weeks, and linux-kbuild-<major> is replaced in place (its name carries no
# ABI).  So the set is resolved against what apt serves today:
#   1. the pinned ABI, newest source version first, whole set served;
#   2. else the newest other ABI of the same major whose whole set is served,
#      loudly, recorded as PINNED=false.
# The debs land in <cache dir> (apt-get download, never installed); each is
# checked (dpkg-deb can read it whole) before the set is recorded.
#
#   resolve-kernel.sh <abi e.g. 6.1.0-56> <flavour e.g. cloud-amd64> <cache dir>
#   resolve-kernel.sh --source <kernel version e.g. 6.1.192-2> <cache dir>
#
# Writes <cache dir>/resolved-<abi>-<flavour>.env (sourced by fetch-kernel.sh):
#   ABI VERSION IMAGE_PKG PINNED DEBS=(...) PACKAGES=(name=version ...)
#   SHA256S=(...)
# --source resolves the kernel's source, linux-source-<major>, by the same rule
# as kbuild (that version, else the newest of its upstream version), into
# <cache dir>/resolved-source-<version>.env (VERSION PACKAGES DEBS SHA256S).
# A later run with that file and intact debs is offline.
#
# apt-cache and apt-get come from PATH (the tests put stand-ins there).
# When the archive's lists are stale (nothing resolves, or a download answers
# 404), a root run does one `apt-get update` and resolves again;
# EZONE_APT_UPDATE=0 forbids it.
set -euo pipefail

log() { echo "ezone-kernel: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ${1:-} == --source ]]; then
	mode=source src_version=$2 cache=$3
	[[ $src_version =~ ^([0-9]+:)?([0-9]+\.[0-9]+)\.[0-9]+-[0-9a-z.+~]+$ ]] ||
		die "'$src_version' is not a Debian kernel version like 6.1.192-2"
	major=${BASH_REMATCH[2]}
	what="linux-source-$major for $src_version"
	env_name="resolved-source-$src_version.env"
else
	mode=kernel abi=$1 flavour=$2 cache=$3
	[[ $abi =~ ^[0-9]+\.[0-9]+\.0-[0-9]+$ ]] || die "'$abi' is not a Debian kernel ABI like 6.1.0-56"
	major=${abi%%.0-*}             # 6.1
	what="kernel set for $abi-$flavour"
	env_name="resolved-$abi-$flavour.env"
fi
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
env_file="$cache/$env_name"

# A deb is usable when dpkg-deb can read its control and its whole data part:
# a truncated or corrupt download fails here, not later in the build.
deb_ok() {
	dpkg-deb --info "$1" >/dev/null 2>&1 && dpkg-deb --fsys-tarfile "$1" >/dev/null 2>&1
}

# --- offline: a set resolved before, its debs intact -------------------------
cached_set_ok() {
	[[ -f $env_file ]] || return 1
	local DEBS=() SHA256S=() i
	# shellcheck disable=SC1090
	source "$env_file" || return 1
	((${#DEBS[@]} > 0 && ${#SHA256S[@]} == ${#DEBS[@]})) || return 1
	for i in "${!DEBS[@]}"; do
		[[ -f $cache/${DEBS[$i]} ]] || return 1
		[[ $(sha256sum "$cache/${DEBS[$i]}" | cut -c1-64) == "${SHA256S[$i]}" ]] || return 1
	done
}
if cached_set_ok; then
	log "using the cached $what (offline; $env_file)"
	exit 0
fi

command -v apt-cache >/dev/null || die "apt-cache not found, and no intact cached $what in $cache"

# served_versions <package>: the versions apt serves, newest first.
served_versions() {
	apt-cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); if ($2 != "") print $2}' |
		sort -u | sort -rV
}
upstream() { local v=${1#*:}; echo "${v%-*}"; }    # 1:6.1.192-3 -> 6.1.192

# resolve_set <abi>: on success sets SET_VERSION and SET_PKGS (name=version),
# else returns 1 and leaves why in SET_WHY.
resolve_set() {
	local a=$1 img="linux-image-$1-$flavour-unsigned" v kb
	local hdr="linux-headers-$1-$flavour" common="linux-headers-$1-common" kbuild="linux-kbuild-$major"
	local imgs hdrs commons kbuilds
	imgs=$(served_versions "$img")
	[[ -n $imgs ]] || { SET_WHY="$img is not served"; return 1; }
	hdrs=$(served_versions "$hdr")
	commons=$(served_versions "$common")
	kbuilds=$(served_versions "$kbuild")
	SET_WHY=""
	for v in $imgs; do
		if ! grep -qxF "$v" <<<"$hdrs"; then SET_WHY+="$hdr=$v not served; "; continue; fi
		if ! grep -qxF "$v" <<<"$commons"; then SET_WHY+="$common=$v not served; "; continue; fi
		if ! kb=$(same_upstream "$v" "$kbuilds"); then
			SET_WHY+="$kbuild of upstream $(upstream "$v") not served (served: $(echo $kbuilds)); "
			continue
		fi
		[[ $kb == "$v" ]] || log "$kbuild=$v is not served; using $kbuild=$kb (same upstream version $(upstream "$v"))"
		SET_VERSION=$v
		SET_PKGS=("$img=$v" "$hdr=$v" "$common=$v" "$kbuild=$kb")
		return 0
	done
	return 1
}

# same_upstream <version> <served versions>: <version> when served, else the
# newest served version of its upstream version (linux-kbuild-<major> and
# linux-source-<major> carry no ABI and are replaced in place: 6.1.192-2 ->
# 6.1.192-3 is the same kernel's tools and source).
same_upstream() {
	local v=$1 served=$2 k
	if grep -qxF "$v" <<<"$served"; then echo "$v"; return 0; fi
	while read -r k; do
		[[ -n $k && $(upstream "$k") == "$(upstream "$v")" ]] && { echo "$k"; return 0; }
	done <<<"$served"
	return 1
}

resolve_source() {
	local pkg="linux-source-$major" served v
	served=$(served_versions "$pkg")
	PINNED=true
	if v=$(same_upstream "$src_version" "$served"); then
		[[ $v == "$src_version" ]] || log "$pkg=$src_version is not served; using $pkg=$v (same upstream version)"
		SET_VERSION=$v SET_PKGS=("$pkg=$v")
		return 0
	fi
	RESOLVE_WHY="  $pkg of upstream $(upstream "$src_version") is not served (served: $(echo $served))"
	return 1
}

# candidate_abis: the pin first, then every other <major>.0-N of this flavour, newest first.
candidate_abis() {
	echo "$abi"
	apt-cache pkgnames "linux-image-$major.0-" 2>/dev/null |
		sed -nE "s/^linux-image-(${major//./\\.}\\.0-[0-9]+)-$flavour-unsigned\$/\\1/p" |
		grep -vxF "$abi" | sort -u | sort -rV || true
}

resolve() {
	local a tried=()
	PINNED=true
	for a in $(candidate_abis); do
		if resolve_set "$a"; then
			ABI=$a
			[[ $a == "$abi" ]] || PINNED=false
			return 0
		fi
		tried+=("$a: ${SET_WHY%; }")
		PINNED=false
	done
	RESOLVE_WHY=$(printf '  %s\n' "${tried[@]}")
	return 1
}

# download <name=version>...: apt-get download into the cache, apt's own words
# shown.  Returns apt's exit status; sets DL_404 once apt said 404/not found.
DL_404=false
download() {
	local out rc
	log "downloading into $cache: $*"
	set +e
	out=$(cd "$cache" && apt-get download -q "$@" 2>&1)
	rc=$?
	set -e
	[[ -z $out ]] || grep -v 'Download is performed unsandboxed' <<<"$out" | sed 's/^/  apt-get: /' >&2 || true
	grep -qE '404|Not Found|was not found|Unable to locate' <<<"$out" && DL_404=true
	return $rc
}

# deb_file <name=version>: the file apt-get download names <name>_<version>_<arch>.deb.
deb_file() {
	local n=${1%%=*} v=${1#*=} f
	for f in "$cache/${n}_${v//:/%3a}_"*.deb; do [[ -f $f ]] && { basename "$f"; return 0; }; done
	return 1
}

# fetch_set: download what is missing or broken (twice at most), then check
# every deb.
fetch_set() {
	local p f missing=() attempt
	for attempt in 1 2 3; do
		missing=()
		for p in "${SET_PKGS[@]}"; do
			if f=$(deb_file "$p") && deb_ok "$cache/$f"; then continue; fi
			[[ -n ${f:-} && -f $cache/${f:-} ]] && { log "discarding the unreadable $f (a partial download?)"; rm -f "$cache/$f"; }
			missing+=("$p")
		done
		((${#missing[@]})) || return 0
		((attempt < 3)) || break
		download "${missing[@]}" || log "apt-get download exited $? for: ${missing[*]}"
	done
	FETCH_WHY="not downloaded intact: ${missing[*]}"
	return 1
}

updated=false
apt_update() {
	[[ $updated == false && ${EZONE_APT_UPDATE:-1} != 0 && $(id -u) == 0 ]] || return 1
	log "the archive's package lists look stale; running apt-get update once"
	apt-get update -qq >&2 || return 1
	updated=true
}

[[ $mode == kernel ]] || resolve() { resolve_source; }
for round in 1 2; do
	if ! resolve; then
		apt_update && continue
		[[ $mode == kernel ]] || die "$what: not served by apt.
$RESOLVE_WHY"
		die "no complete Debian $major kernel set of flavour $flavour is served by apt.
Looked for linux-image-<abi>-$flavour-unsigned, linux-headers-<abi>-$flavour,
linux-headers-<abi>-common (one version) and linux-kbuild-$major (same upstream
version), for the pinned ABI $abi and every other $major.0-N ABI apt knows:
$RESOLVE_WHY
Is Debian's security archive in /etc/apt/sources.list (bookworm-security), and
has 'apt-get update' run?"
	fi
	if fetch_set; then break; fi
	if [[ $DL_404 == true ]] && apt_update; then continue; fi
	die "downloading $what failed: $FETCH_WHY (apt-get's words are above)"
done

if [[ $mode == kernel && $PINNED == false ]]; then
	log "################################################################"
	log "WARNING: the pinned kernel ABI $abi-$flavour cannot be had as a whole set."
	log "WARNING: using the newest ABI that can: $ABI (pinned=false in every report)."
	log "WARNING: update EZONE_GUEST_KERNEL_ABI to pin it."
	log "################################################################"
fi

DEBS=() SHA256S=()
for p in "${SET_PKGS[@]}"; do
	f=$(deb_file "$p") || die "downloaded deb for $p not found in $cache"
	DEBS+=("$f")
	SHA256S+=("$(sha256sum "$cache/$f" | cut -c1-64)")
done
{
	echo "# written by guest/resolve-kernel.sh: $what"
	if [[ $mode == kernel ]]; then
		echo "ABI=$ABI"
		echo "IMAGE_PKG=linux-image-$ABI-$flavour-unsigned"
		echo "PINNED=$PINNED"
	fi
	echo "VERSION=$SET_VERSION"
	printf 'PACKAGES=('; printf '%q ' "${SET_PKGS[@]}"; echo ')'
	printf 'DEBS=('; printf '%q ' "${DEBS[@]}"; echo ')'
	printf 'SHA256S=('; printf '%q ' "${SHA256S[@]}"; echo ')'
} > "$env_file.tmp"
mv "$env_file.tmp" "$env_file"
log "$what: ${SET_PKGS[*]}$([[ $mode == kernel ]] && echo " (pinned=$PINNED)")"
