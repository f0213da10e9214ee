#!/usr/bin/env python3
"""Make mangled/ from real console logs: the forms consoles really produce
that our own guest does not (docs/crash-detection.md, "Corpus").

    make-mangled.py <ezone> [source log ...]

For each source log (relative to this directory) it writes
mangled/<name>.<form>.log for the forms below, clean-poweroff.reboot.log (a
second boot with nothing to explain it), and mangled/EXPECTED.reports:
the verdict and titles are the source log's (from its EXPECTED.reports),
except the cut-short form, whose expectation is taken from `ezone classify`
and must be reviewed by eye (the report loses its stack: corrupted).
`ezone classify --json` gives the first line of each source's first report.
"""
import json
import pathlib
import re
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
ezone = sys.argv[1]
sources = sys.argv[2:] or [
    "divzero.log", "nullderef.log", "bug.log", "panic.log", "softlockup.log", "warn.log",
    "memcorrupt.log", "stackoverflow-panic-none.log", "user-segv.log", "user-oom.log",
    "kernels/6.1.0-56-amd64/divzero.log", "kernels/6.1.0-56-amd64/nullderef.log",
    "lkdtm/EXEC_KMALLOC.log", "lkdtm/HUNG_TASK.log",
]
out = here / "mangled"
out.mkdir(exist_ok=True)
stamp = re.compile(rb"^\[ *[0-9]+\.[0-9]+\]")


def expected_of(rel):
    exp = (here / rel).parent / "EXPECTED.reports"
    for line in exp.read_text().splitlines():
        fields = [f.strip() for f in line.split(" | ")]
        if fields[0] == pathlib.Path(rel).name:
            return fields[1:]
    raise SystemExit(f"{rel}: not in {exp}")


def first_report_line(path):
    j = json.loads(subprocess.run([ezone, "classify", "--json", str(path)],
                                  capture_output=True, text=True).stdout)
    return j["reports"][0]["first_line"] if j["reports"] else None


def caller_ids(lines, start):
    res = []
    for i, l in enumerate(lines):
        m = stamp.match(l)
        cid = b"[    C0]" if i % 3 == 0 else b"[   T%d]" % (31 + i % 5)
        res.append(l[:m.end()] + cid + l[m.end():] if m else l)
    return res


def levels(lines, start):
    return [(b"<4>" if i >= start - 1 else b"<6>") + l for i, l in enumerate(lines)]


def no_timestamps(lines, start):
    return [stamp.sub(b"", l, count=1).lstrip(b" ") for l in lines]


def crlf(lines, start):
    # Mixed endings: CRLF, CRCRLF, and a bare CR before some lines.
    res = []
    for i, l in enumerate(lines):
        res.append((b"\r" if i % 11 == 5 else b"") + l + (b"\r\r" if i % 2 else b"\r"))
    return res


def glued(lines, start):
    # The report's first line, and the register dump lines, lose the newline
    # before them: messages of two CPUs interleaving on one console.
    res = []
    for i, l in enumerate(lines):
        body = stamp.sub(b"", l, count=1).strip()
        glue = res and (i == start - 1 or re.match(rb"R[A-Z0-9]{2}: ", body))
        if glue:
            res[-1] += l
        else:
            res.append(l)
    return res


def cut(lines, start):
    return lines[: start + 1]  # the log ends two lines into the report


forms = {"caller-ids": caller_ids, "levels": levels, "no-timestamps": no_timestamps,
         "crlf": crlf, "glued": glued, "cut": cut}
rows = []
for rel in sources:
    src = here / rel
    start = first_report_line(src)
    lines = src.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if start is not None and start > 41:
        # The boot before the report adds nothing here: keep 40 lines of it.
        lines = lines[start - 41:]
        start = 41
    stem = rel.replace("/", "_").removesuffix(".log")
    exp = expected_of(rel)
    for form, fn in forms.items():
        if start is None and form in ("cut", "glued"):
            continue
        name = f"{stem}.{form}.log"
        (out / name).write_bytes(b"\n".join(fn(lines, start)) + b"\n")
        if form == "cut":
            j = json.loads(subprocess.run([ezone, "classify", "--json", str(out / name)],
                                          capture_output=True, text=True).stdout)
            got = [f"{r['kind']}: {r['title']}" + (" (corrupted)" if r["corrupted"] else "")
                   for r in j["reports"]]
            rows.append(" | ".join([name, j["verdict"], *got]))
        else:
            rows.append(" | ".join([name, *exp]))
# A guest that boots again with no report before (a reset nobody asked
# for): the clean poweroff log, its poweroff cut, then the whole log again.
clean = (here / "clean-poweroff.log").read_bytes().split(b"\n")
cut_at = next(i for i, l in enumerate(clean) if b"reboot: Power down" in l or b"Preparing to enter" in l)
(out / "clean-poweroff.reboot.log").write_bytes(b"\n".join(clean[:cut_at]) + b"\n" + b"\n".join(clean))
rows.append("clean-poweroff.reboot.log | crash | reboot: unexpected reboot")

(out / "EXPECTED.reports").write_text(
    "# <log> | <verdict> | <kind>: <title>[ (corrupted)] | ...  (docs/crash-detection.md)\n"
    "# Made by ../make-mangled.py from the real logs named in each file name; the\n"
    "# .cut logs' lines were reviewed by eye, the others are their source's.\n"
    + "\n".join(rows) + "\n")
print(f"{len(rows)} mangled logs in {out}")
