"""The demo's command channel: JSON lines between ``record.py`` and its helper processes.

``record.py`` starts each helper (a GUI client in ``puppet.py``, the captions in
``overlay.py``) with pipes on its standard input and output. Each request is one JSON line
``{"id": N, "op": NAME, ...}``; the helper answers each one, in order, with one line
``{"id": N, "ok": true, "result": ...}`` or ``{"id": N, "ok": false, "error": "..."}``.

Helper side (:class:`CommandRunner`, inside a Qt process): a handler may return a value, or a
generator that ``yield``\\ s a number of seconds to wait or a predicate to wait for; the runner
drives it from a Qt timer, so a command never blocks the window, never nests event loops, and
commands run one at a time in the order they came.

Driver side (:class:`Child`): ``call()`` sends a request and returns a :class:`Pending`;
``Pending.wait(timeout)`` returns the result or raises. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["Child", "CommandRunner", "Pending", "until"]

#: the longest any single predicate of a command may be waited for, unless it says otherwise
DEFAULT_WAIT = 30.0


class until:
    """Yielded by a handler: wait until ``cond()`` is true (at most ``timeout`` seconds)."""

    def __init__(self, cond: Callable[[], object], timeout: float = DEFAULT_WAIT, what: str = ""):
        self.cond = cond
        self.timeout = timeout
        self.what = what or getattr(cond, "__name__", "condition")


# --------------------------------------------------------------------------- helper side


class CommandRunner:
    """Reads requests from stdin (a thread), runs them on the Qt thread, answers on stdout."""

    def __init__(self, handlers: dict[str, Callable[..., Any]]) -> None:
        from PySide6.QtCore import QObject, QTimer, Signal

        class _Inbox(QObject):
            line = Signal(str)

        self.handlers = handlers
        # answers go to the real stdout; anything else printed goes to stderr
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._inbox = _Inbox()
        self._inbox.line.connect(self._received)
        self._queue: deque[tuple[Any, Generator[Any, None, Any]]] = deque()
        self._current: tuple[Any, Generator[Any, None, Any]] | None = None
        self._wake_at = 0.0
        self._until: until | None = None
        self._deadline = 0.0
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._step)
        self._timer.start()
        self.eof = False
        threading.Thread(target=self._read, name="stdin", daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self._inbox.line.emit(line)
        self.eof = True
        self._inbox.line.emit('{"id": null, "op": "quit"}')

    def _answer(self, rid: Any, ok: bool, value: Any) -> None:
        msg = {"id": rid, "ok": ok, ("result" if ok else "error"): value}
        self._out.write(json.dumps(msg, default=str) + "\n")
        self._out.flush()

    def _received(self, line: str) -> None:
        try:
            req = json.loads(line)
            rid = req.pop("id", None)
            op = req.pop("op")
            handler = self.handlers[op]
        except Exception as exc:
            self._answer(None, False, f"bad request {line!r}: {exc}")
            return
        try:
            out = handler(**req)
        except Exception as exc:
            self._answer(rid, False, f"{type(exc).__name__}: {exc}")
            return
        if isinstance(out, Generator):
            self._queue.append((rid, out))
        else:
            # plain handlers still answer in order behind running generators
            self._queue.append((rid, _value(out)))

    def _step(self) -> None:
        now = time.monotonic()
        if self._current is None:
            if not self._queue:
                return
            self._current = self._queue.popleft()
            self._wake_at = 0.0
            self._until = None
        rid, gen = self._current
        if self._until is not None:
            try:
                done = bool(self._until.cond())
            except Exception:
                done = False
            if not done:
                if now > self._deadline:
                    what = self._until.what
                    self._current = None
                    gen.close()
                    self._answer(rid, False, f"timed out waiting for {what}")
                return
            self._until = None
        elif now < self._wake_at:
            return
        try:
            y = gen.send(None)
        except StopIteration as stop:
            self._current = None
            self._answer(rid, True, stop.value)
            return
        except Exception as exc:
            self._current = None
            self._answer(rid, False, f"{type(exc).__name__}: {exc}")
            return
        if isinstance(y, until):
            self._until = y
            self._deadline = now + y.timeout
        else:
            self._wake_at = now + float(y or 0)


def _value(v: Any) -> Generator[Any, None, Any]:
    return v
    yield  # pragma: no cover - makes this a generator


# --------------------------------------------------------------------------- driver side


class Pending:
    def __init__(self, child: Child, rid: int, op: str) -> None:
        self.child = child
        self.rid = rid
        self.op = op

    def wait(self, timeout: float = DEFAULT_WAIT) -> Any:
        return self.child._wait(self.rid, self.op, timeout)


class Child:
    """A helper process and its channel (see the module docstring)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: str) -> None:
        self.name = name
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            bufsize=1,
        )
        self._next = 0
        self._results: dict[int, tuple[bool, Any]] = {}
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"{name}-out", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cv:
                self._results[msg.get("id")] = (
                    bool(msg.get("ok")),
                    msg.get("result", msg.get("error")),
                )
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def call(self, op: str, **kw: Any) -> Pending:
        self._next += 1
        rid = self._next
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        return Pending(self, rid, op)

    def do(self, op: str, timeout: float = DEFAULT_WAIT, **kw: Any) -> Any:
        return self.call(op, **kw).wait(timeout)

    def _wait(self, rid: int, op: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cv:
            while rid not in self._results:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no answer to {op} within {timeout:.0f} s")
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) during {op}")
                self._cv.wait(min(left, 0.5))
            ok, value = self._results.pop(rid)
        if not ok:
            raise RuntimeError(f"{self.name}: {op} failed: {value}")
        return value

    def stop(self, timeout: float = 8.0) -> None:
        """Ask the helper to quit (EOF on its stdin), then kill it by PID if it lingers."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()
