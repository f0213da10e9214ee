#!/usr/bin/env python3
"""The agent's protocol on the host: the agent runs as an ordinary process
(not PID 1) on a pty instead of ttyS1, and this test talks to it as the core
does. Covers sh, write/append with their escapes, nowait, and the old
commands' replies. Usage: agent_protocol_test.py <ezone-agent>"""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import tty


def main():
    agent = sys.argv[1]
    master, slave = os.openpty()
    tty.setraw(master)
    slave_path = os.ttyname(slave)
    proc = subprocess.Popen([agent, slave_path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    buf = b""
    failures = []

    def lines(deadline):
        nonlocal buf
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([master], [], [], left)
            if r:
                try:
                    buf += os.read(master, 4096)
                except OSError:
                    return

    def reply(ident, within=5.0):
        for line in lines(time.monotonic() + within):
            if line.startswith("HB ") or line.startswith("READY "):
                continue
            parts = line.split(" ", 2)
            if len(parts) >= 2 and parts[1] == str(ident):
                return line
        return None

    def send(text):
        os.write(master, text.encode() + b"\n")

    def expect(ident, command, want, within=5.0):
        send(f"{ident} {command}")
        got = reply(ident, within)
        if got != want:
            failures.append(f"{command!r}: want {want!r}, got {got!r}")

    try:
        ready = next((l for l in lines(time.monotonic() + 10) if l.startswith("READY ")), None)
        if ready is None:
            failures.append("no READY")
            raise SystemExit
        with tempfile.TemporaryDirectory(prefix="ezone-agent-test-") as d:
            expect(1, "ping", "OK 1 pong")
            # sh: the rest of the line verbatim to /bin/sh -c, quotes and all.
            expect(2, "sh echo 'a  b' \"$((6*7))\" | tr a A", "OK 2 exit=0 A  b 42")
            expect(3, "sh exit 3", "OK 3 exit=3")
            expect(4, "sh kill -SEGV $$", "ERR 4 signal=11")
            expect(5, "sh", "ERR 5 usage: sh <shell command line>")
            # write: one word of path, one blank, data with escapes.
            f = os.path.join(d, "out")
            expect(6, f"write {f} c", "OK 6 wrote=1")
            got = open(f, "rb").read()
            if got != b"c":
                failures.append(f"write wrote {got!r}")
            expect(7, f"write {f}  two spaces\\tand\\\\ \\x41\\n", "OK 7 wrote=19")
            got = open(f, "rb").read()
            if got != b" two spaces\tand\\ A\n":
                failures.append(f"write escapes: {got!r}")
            expect(8, f"append {f} more", "OK 8 wrote=4")
            if open(f, "rb").read() != b" two spaces\tand\\ A\nmore":
                failures.append("append did not append")
            g = os.path.join(d, "with space")
            expect(9, f"write {d}/with\\sspace x", "OK 9 wrote=1")
            if not os.path.exists(g):
                failures.append("\\s in a path")
            expect(10, f"write {f} bad\\q", "ERR 10 bad escape (use \\\\ \\n \\r \\t \\s \\xHH)")
            expect(11, f"write {d}/no/such x", f"ERR 11 {d}/no/such: No such file or directory")
            expect(12, f"write {f}", "OK 12 wrote=0")
            # nowait: the ack first, then the command runs and says nothing.
            h = os.path.join(d, "late")
            expect(13, f"nowait sh sleep 0.3; echo done > {h}", "OK 13 started")
            time.sleep(1.0)
            if not os.path.exists(h) or open(h).read() != "done\n":
                failures.append("nowait sh did not run")
            expect(14, f"nowait write {d}/nw x", "OK 14 started")
            expect(15, "ping", "OK 15 pong")  # and nothing else came for 14
            for line in lines(time.monotonic() + 0.5):
                if line.split(" ")[0] in ("OK", "ERR") and line.split(" ")[1:2] == ["14"]:
                    failures.append(f"nowait replied twice: {line}")
            if not os.path.exists(os.path.join(d, "nw")):
                failures.append("nowait write did not write")
            expect(16, "nowait nowait ping", "ERR 16 unknown command")
            expect(17, "nowait", "ERR 17 unknown command")
            expect(18, "frobnicate", "ERR 18 unknown command")
            expect(19, "runout /bin/echo hi", "OK 19 exit=0 hi")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for f in failures:
        print("FAIL:", f)
    print("agent protocol:", "FAILED" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
