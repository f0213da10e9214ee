#!/usr/bin/env python3
"""`ezone classify --json` on every console log of the corpus, checked
against the EXPECTED.reports beside it; then its exit status on a log with a
crash, one without, stdin, and a file that cannot be read.

    classify_corpus_test.py <ezone executable> <corpus dir>
"""
import json
import pathlib
import subprocess
import sys

ezone, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
if subprocess.run([ezone, "classify", "--help"], capture_output=True).returncode != 0:
    # main.cc registers the command (AddClassifyCommand, classify_cli.h).
    print("classify: skipped: this ezone has no classify command")
    sys.exit(77)
failures = []
checked = 0


def expectations():
    for exp in sorted(corpus.rglob("EXPECTED.reports")):
        for line in exp.read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split(" | ")]
            yield exp.parent / fields[0], fields[1], fields[2:]


by_dir = {}
for log, verdict, reports in expectations():
    by_dir.setdefault(log.parent, []).append((log, verdict, reports))

for d, items in by_dir.items():
    args = [str(log) for log, _, _ in items]
    p = subprocess.run([ezone, "classify", "--json", *args], capture_output=True, text=True)
    lines = p.stdout.splitlines()
    if len(lines) != len(items):
        failures.append(f"{d}: {len(lines)} JSON lines for {len(items)} logs; stderr: {p.stderr}")
        continue
    any_crash = False
    for (log, verdict, reports), line in zip(items, lines):
        j = json.loads(line)
        checked += 1
        if "error" in j:
            failures.append(f"{log}: {j['error']}")
            continue
        got = [f"{r['kind']}: {r['title']}" + (" (corrupted)" if r["corrupted"] else "")
               for r in j["reports"]]
        if j["file"] != str(log) or j["verdict"] != verdict or got != reports:
            failures.append(f"{log}: got {j['verdict']} {got}, expected {verdict} {reports}")
        if j["corrupted"] != any(r["corrupted"] for r in j["reports"]):
            failures.append(f"{log}: top-level corrupted disagrees with its reports")
        for r in j["reports"]:
            if not (1 <= r["first_line"] <= r["last_line"]) or not isinstance(r["fatal"], bool):
                failures.append(f"{log}: bad report {r}")
        any_crash |= verdict == "crash"
    if p.returncode != (1 if any_crash else 0):
        failures.append(f"{d}: exit {p.returncode}, expected {1 if any_crash else 0}")

# Exit statuses and stdin.
crash = corpus / "divzero.log"
clean = corpus / "clean-poweroff.log"
p = subprocess.run([ezone, "classify", str(clean)], capture_output=True, text=True)
if p.returncode != 0 or "none" not in p.stdout:
    failures.append(f"clean log: exit {p.returncode}, output {p.stdout!r}")
with open(crash, "rb") as f:
    p = subprocess.run([ezone, "classify", "--json", "-"], stdin=f, capture_output=True, text=True)
if p.returncode != 1 or json.loads(p.stdout)["file"] != "-":
    failures.append(f"stdin: exit {p.returncode}, output {p.stdout!r}")
missing = corpus / "no-such-log.log"
p = subprocess.run([ezone, "classify", str(clean), str(missing)], capture_output=True, text=True)
if p.returncode != 2 or str(missing) not in p.stderr:
    failures.append(f"unreadable log: exit {p.returncode}, stderr {p.stderr!r}")

for f in failures:
    print("FAIL", f)
print(f"classify: {checked} logs checked, {len(failures)} failures")
sys.exit(1 if failures or checked < 90 else 0)
