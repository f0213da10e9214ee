#!/bin/bash
# Regenerate core/tests/corpus/console/*.log: raw ttyS0 output of the real
# guest for each kerncrash mode, a WARNING (not a crash), a clean poweroff
# and the guest user faults of ezone-fault (segv, oom).
#
#   guest/capture-corpus.sh <build dir>/guest [corpus dir]
#   ONLY="softlockup memcorrupt" guest/capture-corpus.sh ...   # just these logs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
img=${1:?usage: capture-corpus.sh <image dir (build/guest)> [out dir]}
out=${2:-$here/../core/tests/corpus/console}
run="python3 $here/tools/guest-run.py --image-dir $img"
mkdir -p "$out"
meta=$(mktemp)
trap 'rm -f "$meta"' EXIT

capture() {
	local name=$1; shift
	if [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]]; then
		return 0
	fi
	rm -f "$out/$name.log"
	$run --console "$out/$name.log" "$@" > "$meta"
	python3 - "$meta" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:24s} ready={d.get('ready_s')}s replies={[r['line'] for r in d['replies']]} "
      f"events={[e['event'] for e in d['events']]} qemu_exit={d.get('qemu_exit_s')} "
      f"timeout={d.get('timeout', False)} seen={d['console_first_seen_s']}")
PY
}

for mode in divzero nullderef panic bug; do
	capture "$mode" --cmd "insmod kerncrash mode=$mode delay_ms=1000" --until-exit --timeout 60
done
# hang: interrupts off forever on the only vCPU; nothing more is printed.
capture hang --cmd "insmod kerncrash mode=hang delay_ms=1000" --until-exit --timeout 12
# warn: a kernel WARNING is not a crash; the guest powers off cleanly after it.
capture warn --cmd "insmod kerncrash mode=warn delay_ms=500" --cmd "sleep 2" --cmd ping \
	--cmd poweroff --until-exit --timeout 60
capture clean-poweroff --cmd ping --cmd "run /bin/true" --cmd poweroff --until-exit --timeout 60
# softlockup: watchdog_thresh=1 makes the soft-lockup threshold 2 s; the
# spin ends after duration_ms and the guest lives on (softlockup_panic=0).
capture softlockup --append-extra "watchdog_thresh=1" \
	--cmd "insmod kerncrash mode=softlockup delay_ms=1000 duration_ms=4000" \
	--cmd "sleep 5" --cmd ping --cmd poweroff --until-exit --timeout 60
# stackoverflow: the double fault handler prints in NMI context, so console
# output is deferred; with QEMU's default -action panic=shutdown QEMU exits
# at the pvpanic event, before the kernel flushes the panic line.  The
# second log is the same fault under -action panic=none: the whole text.
capture stackoverflow --cmd "insmod kerncrash mode=stackoverflow delay_ms=1000" \
	--until-exit --timeout 60
capture stackoverflow-panic-none --panic-action none \
	--cmd "insmod kerncrash mode=stackoverflow delay_ms=1000" --until-exit --timeout 60
capture memcorrupt --cmd "insmod kerncrash mode=memcorrupt delay_ms=1000" --until-exit --timeout 60
# Guest user space (E-Zone 4): the guest survives and powers off cleanly.
capture user-segv --cmd "run ezone-fault segv" --cmd ping --cmd poweroff --until-exit --timeout 60
capture user-oom --cmd "run ezone-fault oom" --cmd ping --cmd poweroff --until-exit --timeout 90
ls -l "$out"
