#!/usr/bin/env python3
"""Runs inside the demo's xterm: types each command it is given, then runs it for real.

``record.py`` listens on a Unix socket and this player connects to it. Requests and answers
are JSON lines (``{"id", "op", ...}`` / ``{"id", "ok", "result"|"error"}``):

* ``run``: print the prompt, type ``show`` key by key, run ``sh`` with ``bash -c`` in the demo
  directory with the terminal as its output; answer ``{"rc"}`` when it exits (or ``{"pid"}`` at
  once with ``bg``: then its output is copied to the terminal and kept for ``expect``).
* ``expect``: wait until a background command printed a line matching ``pattern``.
* ``signal``: send a signal to a background command (``wait``: until it exits).
* ``say``: print a comment line; ``clear``: clear the screen.

Every output line the viewer sees comes from the commands themselves.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

PROMPT = "\x1b[1;32mdemo@tertulia\x1b[0m:\x1b[1;34m~\x1b[0m$ "
DIM = "\x1b[2;37m"
RESET = "\x1b[0m"

out_lock = threading.Lock()


def write(text: str) -> None:
    with out_lock:
        sys.stdout.write(text)
        sys.stdout.flush()


class Background:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.cv = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            write(line)
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()


def main() -> int:
    sock_path, workdir = sys.argv[1], sys.argv[2]
    os.chdir(workdir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(100):
        try:
            sock.connect(sock_path)
            break
        except OSError:
            time.sleep(0.1)
    else:
        return 1
    rfile = sock.makefile("r", encoding="utf-8")
    wfile = sock.makefile("w", encoding="utf-8", buffering=1)
    bg: dict[str, Background] = {}

    def answer(rid: object, ok: bool, value: object) -> None:
        wfile.write(json.dumps({"id": rid, "ok": ok, ("result" if ok else "error"): value}) + "\n")
        wfile.flush()

    def type_out(text: str, cps: float) -> None:
        write(PROMPT)
        time.sleep(0.4)
        for ch in text:
            write(ch)
            time.sleep(1.0 / cps if ch != " " else 0.5 / cps)
        time.sleep(0.35)
        write("\n")

    write("\x1b]0;Terminal\x07")
    for line in rfile:
        req = json.loads(line)
        rid, op = req.get("id"), req.get("op")
        try:
            if op == "run":
                type_out(req.get("show") or req["sh"], float(req.get("cps", 28)))
                if req.get("bg"):
                    proc = subprocess.Popen(
                        ["bash", "-c", req["sh"]],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        start_new_session=False,
                    )
                    bg[req["tag"]] = Background(proc)
                    answer(rid, True, {"pid": proc.pid})
                else:
                    timeout = float(req.get("timeout", 60))
                    proc = subprocess.Popen(["bash", "-c", req["sh"]])
                    try:
                        rc = proc.wait(timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        rc = proc.wait(5)
                    answer(rid, True, {"rc": rc})
            elif op == "expect":
                b = bg[req["tag"]]
                pat = re.compile(req["pattern"])
                deadline = time.monotonic() + float(req.get("timeout", 30))
                found = None
                with b.cv:
                    seen = 0
                    while found is None:
                        for ln in b.lines[seen:]:
                            if m := pat.search(ln):
                                found = list(m.groups()) or [m.group(0)]
                                break
                        seen = len(b.lines)
                        if found is not None or b.proc.poll() is not None:
                            break
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        b.cv.wait(min(left, 0.5))
                if found is None:
                    answer(rid, False, f"no line matching {req['pattern']!r}")
                else:
                    answer(rid, True, found)
                    # only lines after this one count for the next expect
                    with b.cv:
                        idx = next(i for i, ln in enumerate(b.lines) if pat.search(ln))
                        del b.lines[: idx + 1]
            elif op == "signal":
                b = bg[req["tag"]]
                b.proc.send_signal(getattr(signal, "SIG" + req.get("sig", "TERM")))
                rc = None
                if req.get("wait"):
                    rc = b.proc.wait(float(req.get("timeout", 30)))
                answer(rid, True, {"rc": rc})
            elif op == "say":
                write(f"{DIM}# {req['text']}{RESET}\n")
                answer(rid, True, None)
            elif op == "clear":
                write("\x1b[H\x1b[2J\x1b[3J")
                answer(rid, True, None)
            elif op == "pids":
                answer(rid, True, {k: b.proc.pid for k, b in bg.items() if b.proc.poll() is None})
            else:
                answer(rid, False, f"unknown op {op}")
        except Exception as exc:  # report, keep serving
            answer(rid, False, f"{type(exc).__name__}: {exc}")
    for b in bg.values():  # the driver went away: stop what is still running
        if b.proc.poll() is None:
            b.proc.terminate()
            try:
                b.proc.wait(10)
            except subprocess.TimeoutExpired:
                b.proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
