"""Prove every install line the docs give, as a new user runs it (``make install-check``).

For each of ``pip install tertulia`` (no extras), ``'tertulia[gui]'`` and
``'tertulia[postgres,redis]'`` this builds the wheel once from the checkout, installs it into a
new virtualenv (so only what the wheel declares and carries is there: no editable checkout, no
dev extra), starts a real server from that virtualenv on 127.0.0.1 and chats through it with the
virtualenv's own ``tertulia`` command: two accounts, three messages in, the same three out, once
each and in order. The ``gui`` variant also logs in with the desktop client, offscreen, and
waits for the messages in its timeline; the cluster variant runs the server on this machine's
PostgreSQL and Redis (a schema and key prefix of its own, removed afterwards).

Standard library only: it runs with the system's ``python3`` before any virtualenv exists.
Every wait is bounded; the servers it starts are stopped by PID. Exit status 0 when all pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "install-check-password"
TEXTS = ["hola, bob", "¡qué tal! ñandú 👋", "third and last"]
#: the modules a variant must (not) be able to import: proof that it is the install we claim
VARIANTS: dict[str, tuple[str, list[str], list[str]]] = {
    "plain": ("", ["icu"], ["redis", "asyncpg", "PySide6", "pytest"]),
    "gui": ("[gui]", ["PySide6"], ["redis", "asyncpg", "pytest"]),
    "cluster": ("[postgres,redis]", ["redis", "asyncpg"], ["PySide6", "pytest"]),
}
PG_DSN = os.environ.get("TERTULIA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TERTULIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class CheckFailed(Exception):
    pass


def run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None, **kw: object) -> str:
    """Run ``cmd``; its stdout, or CheckFailed with the end of its output."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False, **kw
        )  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{' '.join(cmd[:3])} ... did not finish in {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise CheckFailed(
            f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n  " + "\n  ".join(tail)
        )
    return str(proc.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_wheel(work: Path) -> Path:
    out = work / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        timeout=300,
    )
    (wheel,) = out.glob("tertulia-*.whl")
    return wheel


def make_venv(work: Path, name: str, wheel: Path, extra: str) -> Path:
    venv = work / name
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    run([str(venv / "bin" / "pip"), "install", "--quiet", f"{wheel}{extra}"], timeout=600)
    return venv


def check_modules(venv: Path, present: list[str], absent: list[str]) -> None:
    probe = (
        "import importlib.util, json, sys;"
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    found = json.loads(
        run([str(venv / "bin" / "python"), "-c", probe, *present, *absent], timeout=60)
    )
    wrong = [m for m in present if not found[m]] + [m for m in absent if found[m]]
    if wrong:
        raise CheckFailed(
            f"unexpected set of installed packages: {wrong} (want {present}, not {absent})"
        )


class Server:
    """``tertulia server`` from a virtualenv, stopped by PID."""

    def __init__(self, venv: Path, data: Path, extra_args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.data = data
        self.log = data.parent / f"{data.name}.log"
        cmd = [str(venv / "bin" / "tertulia"), "server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data-dir", str(data), *extra_args]
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            cmd, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + 60
        while "listening on" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace").strip().splitlines()[-8:]
                raise CheckFailed("the server did not start:\n  " + "\n  ".join(tail))
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def chat(venv: Path, server: Server, env: dict[str, str]) -> None:
    """Two accounts; alice sends three lines; bob reads them back once each, in order."""
    tertulia = str(venv / "bin" / "tertulia")
    fp = run([tertulia, "admin", "--data-dir", str(server.data), "fingerprint"], timeout=60).strip()
    conn = ["--server", f"127.0.0.1:{server.port}", "--fingerprint", fp]
    cenv = dict(env, TERTULIA_PASSWORD=PASSWORD)
    for user in ("alice", "bob"):
        run([tertulia, "register", *conn, "--user", user], timeout=60, env=cenv)
    run(
        [tertulia, "send", *conn, "--user", "alice", "--room", "general"],
        timeout=120,
        env=cenv,
        input="\n".join(TEXTS) + "\n",
    )
    opts = ["--since", "0", "--json", "--count", str(len(TEXTS)), "--timeout", "60"]
    out = run(
        [tertulia, "listen", *conn, "--user", "bob", "--room", "general", *opts],
        timeout=90,
        env=cenv,
    )
    got = [json.loads(line) for line in out.splitlines() if line.strip()]
    texts = [g["text"] for g in got]
    seqs = [g["seq"] for g in got]
    if texts != TEXTS or seqs != list(range(1, len(TEXTS) + 1)):
        raise CheckFailed(f"bob read {texts} (seq {seqs}), expected {TEXTS} once each in order")


GUI_PROBE = r"""
import sys, time
from PySide6.QtWidgets import QApplication
from tertulia.gui.app import TertuliaApp

host, port, user, password, config_dir, *texts = sys.argv[1:]
app = QApplication([])
ctl = TertuliaApp(config_dir=__import__("pathlib").Path(config_dir), language="en", theme="light")
ctl.show_login()
w = ctl.connect_window
w.host.setText(host); w.port.setValue(int(port)); w.user.setText(user); w.password.setText(password)
w.submit.click()

def wait(cond, what, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"the desktop client timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)

wait(lambda: ctl.trust_dialog is not None or ctl.window is not None, "the trust prompt")
if ctl.window is None:
    ctl.trust_dialog.trust_button.click()
wait(lambda: ctl.window is not None and ctl.window.isVisible(), "the main window")
ctl.store.select_room("general")
def shown():
    st = ctl.store.room("general")
    if st is None:
        return []
    from tertulia.gui.models import Role
    m = st.model
    return [m.data(m.index(i, 0), Role.Text) for i in range(m.rowCount())]
wait(lambda: [t for t in shown() if t in texts] == texts, "the messages in the timeline")
ctl.shutdown()
print("gui ok")
"""


def gui_chat(venv: Path, server: Server, work: Path, env: dict[str, str]) -> None:
    genv = dict(env, QT_QPA_PLATFORM="offscreen")
    probe = [str(venv / "bin" / "python"), "-c", GUI_PROBE]
    out = run(
        [*probe, "127.0.0.1", str(server.port), "bob", PASSWORD, str(work / "gui-config"), *TEXTS],
        timeout=120,
        env=genv,
    )
    if "gui ok" not in out:
        raise CheckFailed(f"the desktop client probe said: {out.strip()}")


def cluster_cleanup(venv: Path, tag: str) -> None:
    script = (
        "import asyncio, sys, asyncpg, redis.asyncio as r\n"
        "async def main(dsn, url, tag):\n"
        "    c = await asyncpg.connect(dsn)\n"
        "    await c.execute(f'DROP SCHEMA IF EXISTS \"{tag}\" CASCADE'); await c.close()\n"
        "    rc = r.from_url(url)\n"
        "    async for k in rc.scan_iter(match=f'{tag}:*'): await rc.delete(k)\n"
        "    await rc.aclose()\n"
        "asyncio.run(main(*sys.argv[1:]))\n"
    )
    run([str(venv / "bin" / "python"), "-c", script, PG_DSN, REDIS_URL, tag], timeout=60)


def check_variant(name: str, wheel: Path, work: Path) -> str:
    extra, present, absent = VARIANTS[name]
    started = time.monotonic()
    venv = make_venv(work, f"venv-{name}", wheel, extra)
    installed = time.monotonic() - started
    check_modules(venv, present, absent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA")}
    env["TERTULIA__HTTP__PORT"] = "0"  # several servers on one machine: any free metrics port
    args: list[str] = []
    tag = f"install_check_{os.getpid()}"
    if name == "cluster":
        args = ["--store", PG_DSN, "--bus", REDIS_URL]
        env["TERTULIA__STORE__SCHEMA"] = tag
        env["TERTULIA__BUS__PREFIX"] = f"{tag}:"
    server = Server(venv, work / f"data-{name}", args, env)
    try:
        chat(venv, server, env)
        if name == "gui":
            gui_chat(venv, server, work, env)
    finally:
        server.stop()
        if name == "cluster":
            cluster_cleanup(venv, tag)
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file()) / 2**20
    return (
        f"install {installed:.0f} s, {size:.0f} MB, chat ok in {time.monotonic() - started:.0f} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(VARIANTS), help="comma-separated: plain,gui,cluster")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s): {unknown}")
    work = Path(tempfile.mkdtemp(prefix="tertulia-install-check-"))
    failed = 0
    try:
        wheel = build_wheel(work)
        for name in names:
            try:
                print(
                    f"install check {name:8} ({VARIANTS[name][0] or 'no extras'}): "
                    + check_variant(name, wheel, work),
                    flush=True,
                )
            except CheckFailed as exc:
                failed += 1
                print(f"install check {name:8} FAILED: {exc}", flush=True)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
