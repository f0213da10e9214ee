#!/bin/bash
# Regenerate core/tests/corpus/console/*.log: raw ttyS0 output of the real
# guest for each kerncrash mode, a WARNING (not a crash) and a clean poweroff.
#
#   guest/capture-corpus.sh <build dir>/guest [corpus dir]
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
	rm -f "$out/$name.log"
	$run --console "$out/$name.log" "$@" > "$meta"
	python3 - "$meta" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:15s} ready={d.get('ready_s')}s replies={[r['line'] for r in d['replies']]} "
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
ls -l "$out"
