#!/usr/bin/env python3
"""Boot the ezone guest under QEMU, talk to the agent, watch QMP.

A verification/corpus tool for guest/ (the real runner is core/).  Example:

  guest-run.py --image-dir build/guest --console out.log \
      --cmd 'insmod kerncrash mode=divzero delay_ms=1000' --until-exit --timeout 30

Prints one JSON object with timings and QMP events on stdout.
"""
import argparse
import json
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image-dir", required=True)
    ap.add_argument("--console", required=True, help="file for raw ttyS0 output")
    ap.add_argument("--machine", default="q35")
    ap.add_argument("--append-extra", default="")
    ap.add_argument("--hb-ms", type=int, default=100)
    ap.add_argument("--cmd", action="append", default=[],
                    help="agent command (without id), sent after READY in order")
    ap.add_argument("--until-exit", action="store_true",
                    help="after the commands, wait for QEMU to exit")
    ap.add_argument("--console-wait", default=None,
                    help="regex: stop when it shows on the console")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--panic-action", default=None,
                    help="QEMU -action panic=... (default: QEMU's own)")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="256")
    ap.add_argument("--disk-mib", type=int, default=0,
                    help="attach a sparse raw virtio disk of this size (/dev/vda)")
    ap.add_argument("--nic", choices=["user"], default=None,
                    help="attach a virtio NIC on QEMU user networking")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="ezone-guest-")
    ctl_path = os.path.join(tmp, "ctl.sock")
    qmp_path = os.path.join(tmp, "qmp.sock")
    nonce = secrets.token_hex(8)
    append = (f"console=ttyS0 ezone.nonce={nonce} ezone.hb_ms={a.hb_ms} panic=-1 "
              + a.append_extra).strip()
    qemu = ["qemu-system-x86_64", "-machine", a.machine, "-accel", "tcg",
            "-smp", str(a.smp), "-m", a.mem, "-nographic", "-nodefaults", "-no-reboot",
            "-kernel", os.path.join(a.image_dir, "vmlinuz"),
            "-initrd", os.path.join(a.image_dir, "initramfs.cpio.gz"),
            "-append", append,
            "-chardev", f"file,id=con,path={a.console}",
            "-chardev", f"socket,id=ctl,path={ctl_path},server=on,wait=off",
            "-serial", "chardev:con", "-serial", "chardev:ctl",
            "-device", "pvpanic",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    if a.disk_mib:
        disk = os.path.join(tmp, "disk.raw")
        with open(disk, "wb") as f:
            f.truncate(a.disk_mib * 1024 * 1024)
        qemu += ["-drive", f"file={disk},if=virtio,format=raw"]
    if a.nic:
        qemu += ["-nic", "user,model=virtio-net-pci"]
    if a.panic_action:
        qemu += ["-action", f"panic={a.panic_action}"]
    res = {"nonce": nonce, "append": append, "qemu": qemu, "events": [],
           "replies": [], "heartbeats": 0, "max_hb_gap_ms": 0}
    t0 = time.monotonic()
    proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        run(a, res, proc, t0, ctl_path, qmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        res["qemu_rc"] = proc.returncode
        res["qemu_stderr"] = proc.stderr.read().decode(errors="replace")[-500:]
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res, indent=1))


def connect(path, deadline):
    while time.monotonic() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"cannot connect {path}")


def run(a, res, proc, t0, ctl_path, qmp_path):
    deadline = t0 + a.timeout
    ctl = connect(ctl_path, deadline)
    qmp = connect(qmp_path, deadline)
    qmp.sendall(b'{"execute":"qmp_capabilities"}\n')
    bufs = {ctl: b"", qmp: b""}
    cmds = list(a.cmd)
    next_id = 1
    pending = {}
    ready = False
    hold_until = 0.0
    last_hb = None
    con_pat = re.compile(a.console_wait) if a.console_wait else None
    con_seen = {}
    watch = [("divide_error", re.compile(r"divide error: 0000")),
             ("oops", re.compile(r"Oops: |BUG: ")),
             ("kernel_bug", re.compile(r"kernel BUG at")),
             ("panic", re.compile(r"Kernel panic - not syncing")),
             ("warning", re.compile(r"WARNING: CPU:")),
             ("soft_lockup", re.compile(r"BUG: soft lockup")),
             ("stack_guard", re.compile(r"stack guard page was hit")),
             ("segfault", re.compile(r"segfault at")),
             ("oom_kill", re.compile(r"Out of memory: Killed process")),
             ("fault_prog", re.compile(r"ezone-fault: "))]
    con_off = 0
    while True:
        now = time.monotonic()
        if now > deadline:
            res["timeout"] = True
            break
        if proc.poll() is not None:
            res["qemu_exit_s"] = round(now - t0, 3)
            # drain
            for s in (ctl, qmp):
                try:
                    s.setblocking(False)
                    bufs[s] += s.recv(65536)
                except OSError:
                    pass
            break
        r, _, _ = select.select([ctl, qmp], [], [], 0.02)
        for s in r:
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                continue
            bufs[s] += d
        # console
        try:
            with open(a.console, "rb") as f:
                f.seek(con_off)
                new = f.read()
        except FileNotFoundError:
            new = b""
        if new:
            con_off += len(new)
            text = new.decode(errors="replace")
            for k, p in watch:
                if k not in con_seen and p.search(text):
                    con_seen[k] = round(now - t0, 3)
            if con_pat and con_pat.search(text):
                res["console_wait_s"] = round(now - t0, 3)
                break
        while b"\n" in bufs[qmp]:
            line, bufs[qmp] = bufs[qmp].split(b"\n", 1)
            msg = json.loads(line)
            if "event" in msg:
                res["events"].append({"t": round(now - t0, 3), "event": msg["event"],
                                      "data": msg.get("data")})
        while b"\n" in bufs[ctl]:
            line, bufs[ctl] = bufs[ctl].split(b"\n", 1)
            line = line.decode(errors="replace")
            if a.verbose:
                print(f"{now - t0:8.3f} < {line}", file=sys.stderr)
            if line.startswith("READY "):
                ready = True
                res["ready_s"] = round(now - t0, 3)
                res["ready_line"] = line
            elif line.startswith("HB "):
                res["heartbeats"] += 1
                if last_hb is not None:
                    res["max_hb_gap_ms"] = max(res["max_hb_gap_ms"],
                                               round((now - last_hb) * 1000))
                last_hb = now
                res["last_hb_s"] = round(now - t0, 3)
            else:
                res["replies"].append({"t": round(now - t0, 3), "line": line})
                parts = line.split(" ", 2)
                if len(parts) >= 2 and parts[1] in pending:
                    del pending[parts[1]]
        if ready and not pending and cmds and now >= hold_until:
            c = cmds.pop(0)
            if c.startswith("sleep "):
                # keep reading the console and the channels meanwhile
                hold_until = now + float(c.split()[1])
                continue
            if c.startswith("raw "):
                ctl.sendall(c[4:].encode().decode("unicode_escape").encode("latin-1"))
                continue
            cid = str(next_id)
            next_id += 1
            pending[cid] = c
            res.setdefault("sent", []).append({"t": round(time.monotonic() - t0, 3),
                                               "id": cid, "cmd": c})
            ctl.sendall(f"{cid} {c}\n".encode())
        if (ready and not pending and not cmds and now >= hold_until
                and not a.until_exit and not con_pat):
            break
    res["console_first_seen_s"] = con_seen
    res["elapsed_s"] = round(time.monotonic() - t0, 3)


if __name__ == "__main__":
    main()
