#!/usr/bin/env python3
"""Record the Tertulia demo video: a real server, three real desktop clients, a real terminal.

    make demo-video          # installs what is missing, then runs this script
    .venv/bin/python scripts/demo/record.py [--out docs/demo] [--keep-raw]

What runs, all on this machine and on loopback only:

* ``Xvfb`` on a free display number; everything below draws on it; ``ffmpeg -f x11grab``
  records it;
* ``tertulia server`` (random free port, temporary data directory), started and restarted
  from a real ``xterm`` (``termplayer.py`` types each command and runs it);
* three ``tertulia`` desktop clients (``puppet.py``: the real :class:`TertuliaApp`), ana and
  carmen in English, bruno in Spanish, each driven key by key through its widgets; carmen's
  connection goes through the chaos tests' ``FaultProxy`` so her link can be cut;
* ``tshark`` on ``lo`` with a capture filter for the server's port;
* ``hostile.py``, a raw-socket client that attacks the server;
* ``overlay.py``: the background, the name tags and the bilingual caption bar.

Afterwards it writes ``tertulia-demo.mp4`` (H.264, small), ``tertulia-demo.gif`` (a few
seconds), ``frame-*.png`` and ``scenes.md`` (the scene list with timestamps) into ``--out``.
Every process it starts is ended by PID when it finishes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "chaos"))

from channel import Child  # noqa: E402

# screen layout (pixels of the virtual display)
W, H = 1920, 1080
TAG_H = 40
CAP_H = 130
TOP = TAG_H
AREA_H = H - TAG_H - CAP_H
COL = W // 3
FPS = 15
PASSWORD = "correct horse battery"
SECRET = "PINEAPPLE-42"

USERS = {
    # name: (language, column, tag)
    "ana": ("en", 0, "ana  ·  English"),
    "bruno": ("es", 1, "bruno  ·  Español"),
    "carmen": ("en", 2, "carmen  ·  English  ·  through a fault proxy"),
}
TERMINAL_TAG = "Terminal  ·  real commands  —  comandos reales"


def log(text: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_display() -> int:
    for n in range(99, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number in :99-:199")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"{tool} is missing: run 'make demo-video' (it installs it)")
    return path


class Cleanup:
    """Ends what we started, newest first, by PID; runs even when the script fails."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, fn: Callable[[], None]) -> None:
        self.steps.append((what, fn))

    def proc(self, what: str, proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
        def stop() -> None:
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

        self.add(what, stop)

    def pid(self, what: str, pid: int) -> None:
        def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)

        self.add(what, stop)

    def run(self) -> None:
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except Exception as exc:
                log(f"cleanup of {what}: {exc}")


# --------------------------------------------------------------------------- the terminal


class Terminal:
    """The xterm and the player inside it (see termplayer.py)."""

    def __init__(self, env: dict[str, str], workdir: Path, cleanup: Cleanup) -> None:
        self.path = str(workdir / "term.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.listener.settimeout(30)
        cols, rows = 113, 38  # DejaVu Sans Mono 14: fits 1280 x 910 pixels
        self.proc = subprocess.Popen(
            [
                need("xterm"),
                "-geometry",
                f"{cols}x{rows}+0+{TOP}",
                "-fa",
                "DejaVu Sans Mono",
                "-fs",
                "14",
                "-bg",
                "#0f131a",
                "-fg",
                "#d6deeb",
                "-cr",
                "#d6deeb",
                "-b",
                "14",
                "-bw",
                "0",
                "+sb",
                "-u8",
                "-xrm",
                "XTerm*boldColors: false",
                "-T",
                "Terminal",
                "-e",
                sys.executable,
                str(HERE / "termplayer.py"),
                self.path,
                str(workdir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cleanup.proc("xterm", self.proc)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(None)
        self.rfile = self.conn.makefile("r", encoding="utf-8")
        self.lock = threading.Lock()
        self.next = 0
        self.results: dict[int, tuple[bool, Any]] = {}
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.rfile:
            msg = json.loads(line)
            with self.cv:
                self.results[msg["id"]] = (msg["ok"], msg.get("result", msg.get("error")))
                self.cv.notify_all()

    def call(self, op: str, **kw: Any) -> int:
        with self.lock:
            self.next += 1
            rid = self.next
            self.conn.sendall((json.dumps({"id": rid, "op": op, **kw}) + "\n").encode())
        return rid

    def wait(self, rid: int, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        with self.cv:
            while rid not in self.results:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"terminal: request {rid} unanswered")
                self.cv.wait(min(left, 0.5))
            ok, value = self.results.pop(rid)
        if not ok:
            raise RuntimeError(f"terminal: {value}")
        return value

    def do(self, op: str, timeout: float = 60, **kw: Any) -> Any:
        return self.wait(self.call(op, **kw), timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        self.listener.close()


# --------------------------------------------------------------------------- the fault proxy


class Proxy:
    """The chaos tests' FaultProxy on an asyncio loop in a thread (loopback only)."""

    def __init__(self, upstream_port: int) -> None:
        from faultproxy import FaultProxy

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = FaultProxy(("127.0.0.1", upstream_port))
        self._run(self.proxy.start())
        self.port = self.proxy.port

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def go() -> Any:
            return fn()

        return self._run(go())

    def cut(self) -> int:
        self._call(lambda: self.proxy.refuse(True, mode="reset"))
        return int(self._call(self.proxy.reset_all))

    def heal(self) -> None:
        self._call(lambda: self.proxy.refuse(False))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --------------------------------------------------------------------------- the demo


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cleanup = Cleanup()
        self.marks: list[tuple[float, str, str]] = []
        #: moments worth a still frame in the README: (seconds, file name, what it shows)
        self.shots: list[tuple[float, str, str]] = []
        self.t0 = 0.0

    # ------------------------------------------------------------------ helpers

    def mark(self, title: str, detail: str = "") -> None:
        t = time.monotonic() - self.t0 if self.t0 else 0.0
        self.marks.append((t, title, detail))
        log(f"{t:6.1f}s  {title} {detail}")

    def shot(self, name: str, what: str) -> None:
        self.shots.append((time.monotonic() - self.t0, name, what))

    def caption(self, num: str, title: str, title_es: str, en: str, es: str) -> None:
        self.overlay.do("caption", num=num, title=title, title_es=title_es, en=en, es=es)

    def tag(self, slot: int, text: str, x: int, w: int, color: str = "#2a3142") -> None:
        self.overlay.do("tag", slot=slot, text=text, x=x, w=w, color=color)

    def user_tags(self) -> None:
        for _name, (_lang, col, text) in USERS.items():
            self.tag(col, text, col * COL, COL)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds * self.args.pace)

    def all_(
        self, op: str, names: list[str] | None = None, timeout: float = 60, **kw: Any
    ) -> dict[str, Any]:
        names = names or list(self.gui)
        pend = {n: self.gui[n].call(op, **kw) for n in names}
        return {n: p.wait(timeout) for n, p in pend.items()}

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        for tool in ("Xvfb", "xterm", "ffmpeg", "tshark"):
            need(tool)
        self.base = Path(tempfile.mkdtemp(prefix="tertulia-demo-"))
        self.cleanup.add("temporary directory", self._remove_base)
        self.work = self.base / "demo"  # the terminal's working directory
        self.work.mkdir()
        (self.work / "demo.toml").write_text(
            "# demo server: quick password hashing, no exempt addresses, no HTTP listener\n"
            "[passwords]\ntime_cost = 1\nmemory_cost = 8192\nparallelism = 1\n"
            "[limits]\nexempt_networks = []\n"
            "[http]\nenabled = false\n"
        )
        shutil.copy(HERE / "hostile.py", self.work / "hostile.py")
        self.port = free_port()
        self.display = free_display()
        log(f"display :{self.display}, server port {self.port}, work dir {self.base}")
        xvfb = subprocess.Popen(
            [
                need("Xvfb"),
                f":{self.display}",
                "-screen",
                "0",
                f"{W}x{H}x24",
                "-dpi",
                "96",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.base / "xvfb.log", "wb"),  # noqa: SIM115
        )
        self.cleanup.proc("Xvfb", xvfb)
        sock = Path(f"/tmp/.X11-unix/X{self.display}")
        for _ in range(100):
            if sock.exists() or xvfb.poll() is not None:
                break
            time.sleep(0.1)
        if not sock.exists():
            raise RuntimeError("Xvfb did not start (see xvfb.log)")
        venv_bin = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "DISPLAY": f":{self.display}",
            "QT_QPA_PLATFORM": "xcb",
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "XDG_CONFIG_HOME": str(self.base / "xdg"),
            "TERTULIA_GUI_NO_KEYRING": "1",
            "PYTHONPATH": str(ROOT / "src"),
        }
        self.env.pop("WAYLAND_DISPLAY", None)
        self.overlay = Child(
            "overlay",
            [
                sys.executable,
                str(HERE / "overlay.py"),
                "--size",
                f"{W}x{H}",
                "--caption-height",
                str(CAP_H),
                "--tag-height",
                str(TAG_H),
            ],
            self.env,
            str(self.base / "overlay.log"),
        )
        self.cleanup.add("overlay", self.overlay.stop)
        self.caption("", "", "", "", "")
        self.term = Terminal(self.env, self.work, self.cleanup)
        self.cleanup.add("terminal channel", self.term.close)
        self.gui: dict[str, Child] = {}
        for name, (lang, col, _tag) in USERS.items():
            env = {**self.env, "TERTULIA_KNOWN_SERVERS": str(self.base / f"known-{name}")}
            child = Child(
                name,
                [
                    sys.executable,
                    str(HERE / "puppet.py"),
                    "--name",
                    name,
                    "--lang",
                    lang,
                    "--config-dir",
                    str(self.base / f"gui-{name}"),
                    "--geometry",
                    f"{col * COL},{TOP},{COL},{AREA_H}",
                ],
                env,
                str(self.base / f"gui-{name}.log"),
            )
            self.gui[name] = child
            self.cleanup.add(f"client {name}", child.stop)
        for child in self.gui.values():
            child.do("state", timeout=60)  # the app is up
        # outside the temporary directory, which the cleanup removes
        self.raw = Path(tempfile.mkdtemp(prefix="tertulia-demo-raw-")) / "raw.mp4"

    def _remove_base(self) -> None:
        """Keep the helpers' logs (for a failed run), then remove the temporary directory."""
        logs = Path(self.args.logs)
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True, exist_ok=True)
        for f in list(self.base.glob("*.log")) + list(self.base.glob("demo/*.log")):
            shutil.copy(f, logs / f.name)
        shutil.rmtree(self.base, ignore_errors=True)

    def start_recording(self) -> None:
        self.ffmpeg = subprocess.Popen(
            [
                need("ffmpeg"),
                "-y",
                "-loglevel",
                "error",
                "-f",
                "x11grab",
                "-draw_mouse",
                "0",
                "-framerate",
                str(FPS),
                "-video_size",
                f"{W}x{H}",
                "-i",
                f":{self.display}.0",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "14",
                "-pix_fmt",
                "yuv420p",
                str(self.raw),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=open(self.base / "ffmpeg.log", "wb"),  # noqa: SIM115
        )
        self.cleanup.add("ffmpeg", self.stop_recording)
        self.t0 = time.monotonic()

    def stop_recording(self) -> None:
        p = self.ffmpeg
        if p.poll() is not None:
            return
        try:
            assert p.stdin is not None
            p.stdin.write(b"q")
            p.stdin.flush()
            p.stdin.close()
            p.wait(60)
        except (OSError, subprocess.TimeoutExpired):
            p.send_signal(signal.SIGINT)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    # ------------------------------------------------------------------ scenes

    def intro(self) -> None:
        self.mark("Intro", "title card")
        self.overlay.do(
            "card",
            x=0,
            y=0,
            w=W,
            h=H - CAP_H,
            heading="Tertulia",
            sub="Real-time group chat you host yourself\n"
            "Chat en grupo en tiempo real, en tu propio servidor",
            lines=[
                "1  Start the server  ·  first-run fingerprint",
                "2  Log in, trust prompt, group chat, a direct message",
                "3  Network cut: reconnecting, pending messages, delivered exactly once",
                "4  Server restart: history intact, clients resume by themselves",
                "5  Packet capture: only TLS ciphertext on the wire",
                "6  A hostile client is rejected while the chat goes on",
            ],
        )
        self.caption(
            "",
            "A scripted demo — everything is real",
            "Una demo guionizada, todo real",
            "A real server, three real desktop clients (English and Spanish) and a real "
            "terminal, driven by a script on a virtual display.",
            "Un servidor real, tres clientes de escritorio reales (inglés y español) y una "
            "terminal real, manejados por un guion en una pantalla virtual.",
        )
        self.pause(6)

    def scene_server(self) -> None:
        self.mark("1 · Start the server", "first run, fingerprint")
        self.overlay.do(
            "card",
            x=2 * COL,
            y=TOP,
            w=COL,
            h=AREA_H,
            heading="Tertulia",
            sub="server  ·  servidor",
            lines=[],
        )
        self.tag(0, TERMINAL_TAG, 0, 2 * COL)
        self.tag(2, "", 2 * COL, COL)
        self.caption(
            "1",
            "Start the server",
            "Arranca el servidor",
            "First run: it creates its database, a TLS key and a self-signed certificate, "
            "and prints the certificate's fingerprint.",
            "Primer arranque: crea la base de datos, una clave TLS y un certificado "
            "autofirmado, y muestra la huella del certificado.",
        )
        self.pause(1)
        self.server_cmd = f"tertulia server --port {self.port} --data-dir data --config demo.toml"
        pid = self.term.do("run", sh=self.server_cmd, bg=True, tag="server")["pid"]
        self.cleanup.add("server", lambda: self.stop_server())
        self.server_pid = pid
        self.fingerprint = self.term.do(
            "expect", tag="server", pattern=r"Fingerprint: (\S+)", timeout=40
        )[0]
        log(f"fingerprint {self.fingerprint}")
        self.pause(3.5)
        self.caption(
            "1",
            "Start the server",
            "Arranca el servidor",
            "The operator can print the fingerprint again at any time, to give it to the users.",
            "El operador puede volver a mostrar la huella cuando quiera, para dársela a los "
            "usuarios.",
        )
        self.term.do("run", sh="tertulia admin --data-dir data fingerprint", timeout=60)
        self.pause(3.5)

    def stop_server(self) -> None:
        with contextlib.suppress(Exception):
            pids = self.term.do("pids", timeout=5)
            if "server" in pids:
                self.term.do("signal", tag="server", sig="TERM", wait=True, timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.server_pid, 0)
            os.kill(self.server_pid, signal.SIGKILL)

    def scene_login(self) -> None:
        self.mark("2 · Log in and chat", "trust prompt, group chat, DM")
        self.overlay.do("hide_card")
        self.user_tags()
        self.caption(
            "2",
            "Log in",
            "Inicio de sesión",
            "Each person creates an account from the desktop client. bruno's client is in Spanish.",
            "Cada persona crea su cuenta desde el cliente de escritorio. El de bruno está "
            "en español.",
        )
        proxy_port = self.proxy.port
        pend = {}
        for name in self.gui:
            port = proxy_port if name == "carmen" else self.port
            pend[name] = self.gui[name].call(
                "login",
                host="127.0.0.1",
                port=port,
                user=name,
                password=PASSWORD,
                register=True,
            )
            self.pause(0.7)
        for name, p in pend.items():
            got = p.wait(60)
            assert got == "trust", f"{name}: expected a trust prompt, got {got}"
        shown = {n: c.do("fingerprint_shown") for n, c in self.gui.items()}
        same = all(fp == self.fingerprint for fp in shown.values())
        log(f"trust prompts show the server's fingerprint: {same}")
        self.caption(
            "2",
            "Trust on first use",
            "Confianza en el primer uso",
            f"First connection: each client shows the certificate's fingerprint "
            f"({self.fingerprint[:20]}…), the same the server printed" + (" ✓" if same else " ✗"),
            "Primera conexión: cada cliente muestra la huella del certificado, la misma que "
            "mostró el servidor.",
        )
        self.pause(2)
        self.shot("frame-trust.png", "trust on first use: the fingerprint in all three clients")
        self.pause(2.5)
        pend = {}
        for name in self.gui:
            pend[name] = self.gui[name].call("trust")
            self.pause(0.6)
        for p in pend.values():
            p.wait(60)
        self.all_("members", visible=False)
        self.pause(1)
        self.caption(
            "2",
            "Group chat in real time",
            "Chat en grupo en tiempo real",
            "ana creates #general with /join, the others join it, and every message "
            "appears in every window at once.",
            "ana crea #general con /join, los demás se unen, y cada mensaje aparece en "
            "todas las ventanas a la vez.",
        )
        ana, bruno, carmen = self.gui["ana"], self.gui["bruno"], self.gui["carmen"]
        ana.do("type", text="/join general")
        ana.do("wait_room", room="general")
        p1 = bruno.call("type", text="/join general")
        p2 = carmen.call("type", text="/join general")
        p1.wait(), p2.wait()
        self.all_("wait_room", room="general")
        self.pause(0.5)
        self.say("ana", "Hi everyone! Welcome to our own chat server :wave:")
        self.say("bruno", "¡Hola! Ya estoy dentro. Qué rápido va todo.")
        self.say("carmen", "Hey! Works great from here too :tada:")
        self.pause(1)
        self.caption(
            "2",
            "A direct message",
            "Un mensaje directo",
            "ana writes to bruno privately with /msg: it appears under Direct messages with an "
            "unread badge; carmen never sees it.",
            "ana escribe a bruno en privado con /msg: aparece en Mensajes directos con un "
            "contador de no leídos; carmen no lo ve.",
        )
        ana.do("type", text="/msg bruno ¿Revisamos el plan del viernes?")
        dm = self.wait_dm("bruno")
        self.pause(2)
        bruno.do("select", room=dm)
        bruno.do("wait_text", text="¿Revisamos el plan del viernes?", room=dm)
        self.pause(0.6)
        bruno.do("type", text="¡Claro! Dame cinco minutos :+1:")
        ana.do("wait_text", text="¡Claro! Dame cinco minutos 👍", room=dm)
        self.pause(2)
        ana.do("select", room="general")
        bruno.do("select", room="general")
        self.pause(1)

    def wait_dm(self, name: str) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rooms = self.gui[name].do("state")["rooms"]
            dms = [r for r in rooms if r != "general"]
            if dms:
                return str(dms[0])
            time.sleep(0.2)
        raise TimeoutError(f"{name} never got the DM")

    def say(self, name: str, text: str, others: list[str] | None = None) -> None:
        """``name`` types ``text``; wait until it is on every other screen."""
        self.gui[name].do("type", text=text)
        shown = _shortcodes(text)
        for other in others if others is not None else [n for n in self.gui if n != name]:
            self.gui[other].do("wait_text", text=shown, room="general")
        self.pause(0.8)

    def scene_cut(self) -> None:
        self.mark("3 · Network cut", "banner, pending, exactly once")
        carmen = self.gui["carmen"]
        self.caption(
            "3",
            "Network cut",
            "Corte de red",
            "carmen's connection goes through a fault proxy. We cut it: her connection is "
            "reset and every reconnection refused.",
            "La conexión de carmen pasa por un proxy de fallos. La cortamos: se resetea su "
            "conexión y se rechaza cada reconexión.",
        )
        self.pause(1.5)
        n = self.proxy.cut()
        log(f"proxy: reset {n} connection(s), refusing new ones")
        self.tag(2, "carmen  ·  LINK CUT  ✂  ·  sin conexión", 2 * COL, COL, color="#b3261e")
        carmen.do("wait_banner", visible=True, timeout=20)
        self.pause(2.5)
        self.caption(
            "3",
            "Typing while offline",
            "Escribiendo sin conexión",
            "carmen keeps typing: her messages wait in the outbox, marked as pending. "
            "Meanwhile ana and bruno keep talking.",
            "carmen sigue escribiendo: sus mensajes esperan en la bandeja de salida, marcados "
            "como pendientes. Mientras, ana y bruno siguen hablando.",
        )
        offline = ["Typing this in a tunnel…", "Will you get these exactly once?"]
        p = self.gui["ana"].call("type", text="Carmen just dropped off, I think")
        carmen.do("type", text=offline[0])
        p.wait()
        p = self.gui["bruno"].call("type", text="Sí, se ha desconectado.")
        carmen.do("type", text=offline[1])
        p.wait()
        counts = [carmen.do("count", text=t, room="general") for t in offline]
        log(f"carmen while offline: {counts}")
        self.shot("frame-offline.png", "network cut: reconnecting banner, pending messages")
        self.pause(3)
        self.caption(
            "3",
            "Link restored",
            "Conexión restablecida",
            "The proxy lets traffic through again and carmen presses “Retry now” instead of "
            "waiting for the countdown.",
            "El proxy vuelve a dejar pasar el tráfico y carmen pulsa «Retry now» en vez de "
            "esperar a la cuenta atrás.",
        )
        self.pause(1.5)
        self.proxy.heal()
        self.tag(2, USERS["carmen"][2], 2 * COL, COL)
        clicked = carmen.do("click_retry")
        log(f"retry now clicked: {clicked}")
        carmen.do("wait_state", value="connected", timeout=30)
        for name in ("ana", "bruno"):
            for t in offline:
                self.gui[name].do("wait_text", text=t, room="general", timeout=30)
        carmen.do("wait_text", text="Sí, se ha desconectado.", room="general", timeout=30)
        result = {
            name: [self.gui[name].do("count", text=t, room="general") for t in offline]
            for name in self.gui
        }
        log(f"after reconnection: {result}")
        once = all(c["confirmed"] == 1 and c["pending"] == 0 for v in result.values() for c in v)
        per = ", ".join(
            f"{name}: {' + '.join(str(c['confirmed']) for c in v)}" for name, v in result.items()
        )
        self.caption(
            "3",
            "Delivered exactly once" + (" ✓" if once else " ✗"),
            "Entregados exactamente una vez",
            f"Copies of carmen's two offline messages in each window — {per}. "
            "She also caught up on what she missed.",
            "Copias de los dos mensajes de carmen en cada ventana: una de cada. También "
            "recibió lo que se perdió.",
        )
        self.once = once
        self.pause(2)
        self.shot("frame-once.png", "after reconnection: delivered exactly once")
        self.pause(3)

    def scene_restart(self) -> None:
        self.mark("4 · Server restart", "SIGTERM, restart, clients resume")
        ana = self.gui["ana"]
        self.term.do("clear")
        ana.do("show", visible=False)
        self.tag(0, "Terminal", 0, COL)
        self.caption(
            "4",
            "Server restart",
            "Reinicio del servidor",
            "SIGTERM: the server finishes the commits in flight, says goodbye to every client "
            "and exits. The clients start reconnecting.",
            "SIGTERM: el servidor termina lo que está guardando, se despide de cada cliente y "
            "sale. Los clientes empiezan a reconectar.",
        )
        self.pause(1)
        self.term.do("run", sh=f"kill -TERM {self.server_pid}", timeout=20)
        self.term.do("expect", tag="server", pattern=r"Server stopped", timeout=30)
        self.gui["bruno"].do("wait_banner", visible=True, timeout=20)
        self.pause(3)
        self.term.do("run", sh=self.server_cmd, bg=True, tag="server")
        self.server_pid = self.term.do("pids")["server"]
        self.term.do("expect", tag="server", pattern=r"listening on", timeout=40)
        self.caption(
            "4",
            "Clients resume by themselves",
            "Los clientes se reanudan solos",
            "Same port, same data directory. Nobody touches the clients: they reconnect on "
            "their own and resume where they were.",
            "Mismo puerto, mismo directorio de datos. Nadie toca los clientes: reconectan "
            "solos y siguen donde estaban.",
        )
        self.all_("wait_state", value="connected", timeout=40)
        self.all_("wait_banner", visible=False, timeout=20)
        self.pause(1.5)
        ana.do("show", visible=True)
        self.user_tags()
        self.overlay.do("raise")
        self.caption(
            "4",
            "History intact",
            "Historial intacto",
            "Scrolling back: the whole conversation is still there, in order, once.",
            "Desplazándose hacia atrás: toda la conversación sigue ahí, en orden y sin duplicados.",
        )
        self.all_("scroll", to="top", seconds=1.5)
        self.pause(1.5)
        self.all_("scroll", to="bottom", seconds=1.0)
        self.say("bruno", "¡Volvimos! Todo sigue en su sitio.")
        self.pause(1.5)

    def scene_capture(self) -> None:
        self.mark("5 · Packet capture", "tshark on the server port")
        p = self.port
        self.term.do("clear")
        self.gui["ana"].do("show", visible=False)
        self.gui["bruno"].do("show", visible=False)
        self.tag(0, TERMINAL_TAG, 0, 2 * COL)
        self.untag(1)
        self.caption(
            "5",
            "What an eavesdropper sees",
            "Lo que ve un espía",
            f"tshark records everything on the server's port {p} while carmen sends a secret.",
            f"tshark graba todo lo que pasa por el puerto {p} del servidor mientras carmen "
            "envía un secreto.",
        )
        cap = f"tshark -i lo -f 'tcp port {p}' -d tcp.port=={p},tls -w capture.pcapng -P"
        self.term.do("run", sh=cap, bg=True, tag="tshark")
        self.term.do("expect", tag="tshark", pattern=r"Capturing on", timeout=30)
        self.pause(1.5)
        self.gui["carmen"].do("type", text=f"The vault code is {SECRET}")
        for name in ("ana", "bruno"):
            self.gui[name].do("wait_text", text=f"The vault code is {SECRET}", room="general")
        self.gui["bruno"].do("submit_direct", text="Recibido, gracias.")
        self.gui["carmen"].do("wait_text", text="Recibido, gracias.", room="general")
        self.pause(2.5)
        self.term.do("signal", tag="tshark", sig="INT", wait=True, timeout=20)
        self.pause(1.5)
        self.term.do("clear")
        self.caption(
            "5",
            "Only TLS ciphertext",
            "Solo texto cifrado con TLS",
            "Read back: every data packet is a TLS record of Application Data, and its bytes "
            "are unreadable. (TLS 1.3 records carry a 1.2 header, hence tshark's label.)",
            "Releída la captura: cada paquete con datos es un registro TLS «Application "
            "Data», y sus bytes son ilegibles.",
        )
        self.term.do(
            "run",
            sh=f"tshark -r capture.pcapng -d tcp.port=={p},tls -Y tls 2>/dev/null | tail -n 8",
            timeout=60,
        )
        self.pause(1.5)
        self.term.do(
            "run",
            sh=f"tshark -r capture.pcapng -d tcp.port=={p},tls -Y 'tls.app_data && "
            f"tcp.srcport != {p}' -x 2>/dev/null | head -n 14",
            timeout=60,
        )
        self.pause(3)
        self.term.do("run", sh=f"grep -a -c {SECRET} capture.pcapng", timeout=30)
        self.caption(
            "5",
            f"“{SECRET}”: 0 matches in the capture",
            "0 coincidencias en la captura",
            "The message was delivered to every window, yet its text never crossed the wire "
            "in the clear.",
            "El mensaje llegó a todas las ventanas, pero su texto nunca viajó en claro por la red.",
        )
        self.pause(2)
        self.shot("frame-capture.png", "tshark: only TLS records, 0 matches for the secret")
        self.pause(2.5)

    def untag(self, slot: int) -> None:
        self.overlay.do("untag", slot=slot)

    def scene_hostile(self) -> None:
        self.mark("6 · A hostile client", "rejected while chat continues")
        self.term.do("clear")
        self.caption(
            "6",
            "A hostile client",
            "Un cliente hostil",
            "A raw-socket script attacks: no TLS, junk, a 4 GiB frame header, floods, "
            "password guessing. Each attempt is refused with an error code.",
            "Un script con sockets en bruto ataca: sin TLS, basura, una cabecera de 4 GiB, "
            "avalanchas, contraseñas al azar. Cada intento se rechaza con un código de error.",
        )
        self.pause(1)
        rid = self.term.call(
            "run", sh=f"python hostile.py --port {self.port} --pause 1.5", timeout=120
        )
        self.pause(4)
        self.gui["ana"].do("submit_direct", text="Is anyone else seeing anything odd?")
        self.pause(2.5)
        self.gui["bruno"].do("submit_direct", text="Nada raro por aquí, todo fluye.")
        self.pause(1.5)
        self.caption(
            "6",
            "The chat goes on",
            "El chat sigue",
            "While the attacks are refused, ana, bruno and carmen keep chatting as if "
            "nothing happened.",
            "Mientras se rechazan los ataques, ana, bruno y carmen siguen hablando como si nada.",
        )
        self.gui["carmen"].do("type", text="All smooth here too :+1:")
        self.term.wait(rid, 150)
        self.pause(1.5)
        self.shot("frame-hostile.png", "a hostile client refused while the chat goes on")
        self.pause(1.5)

    def outro(self) -> None:
        self.mark("End", "")
        self.gui["ana"].do("show", visible=True)
        self.gui["bruno"].do("show", visible=True)
        self.user_tags()
        self.overlay.do("raise")
        self.caption(
            "",
            "That was all real",
            "Todo fue real",
            "Reproduce it with: make demo-video   (Xvfb, ffmpeg, xterm, tshark; about "
            "five minutes)",
            "Para reproducirlo: make demo-video",
        )
        self.pause(4)

    # ------------------------------------------------------------------ main

    def run(self) -> Path:
        try:
            self.setup()
            self.proxy = Proxy(self.port)
            self.cleanup.add("fault proxy", self.proxy.close)
            self.start_recording()
            self.pause(0.5)
            self.intro()
            self.scene_server()
            self.scene_login()
            self.scene_cut()
            self.scene_restart()
            self.scene_capture()
            self.scene_hostile()
            self.outro()
            self.stop_recording()
            self.length = time.monotonic() - self.t0
            return self.raw
        finally:
            self.cleanup.run()


def _shortcodes(text: str) -> str:
    from tertulia.gui.textfmt import replace_shortcodes

    return replace_shortcodes(text)


# --------------------------------------------------------------------------- encoding


def encode(
    raw: Path,
    out: Path,
    marks: list[tuple[float, str, str]],
    shots: list[tuple[float, str, str]],
    args: argparse.Namespace,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ffmpeg = need("ffmpeg")
    mp4 = out / "tertulia-demo.mp4"
    w, h = (int(v) for v in args.size.split("x"))
    log(f"encoding {mp4.relative_to(ROOT) if mp4.is_relative_to(ROOT) else mp4}")
    subprocess.run(
        [
            ffmpeg,
            "-y",
            "-loglevel",
            "error",
            "-i",
            str(raw),
            "-vf",
            f"scale={w}:{h}:flags=lanczos",
            "-r",
            str(FPS),
            "-c:v",
            "libx264",
            "-preset",
            "slow",
            "-crf",
            str(args.crf),
            "-tune",
            "stillimage",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(mp4),
        ],
        check=True,
        timeout=1800,
    )
    # still frames at the key moments, and a short GIF of the network cut
    for old in out.glob("frame-*.png"):
        old.unlink()
    names = []
    for t, name, title in shots:
        subprocess.run(
            [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                "-ss",
                f"{t:.2f}",
                "-i",
                str(mp4),
                "-frames:v",
                "1",
                "-vf",
                "scale=1280:-1:flags=lanczos",
                str(out / name),
            ],
            check=True,
            timeout=120,
        )
        names.append((name, title, t))
    cut = next((t for t, title, _ in marks if title.startswith("3")), None)
    if cut is not None:
        gif = out / "tertulia-demo.gif"
        start = cut + args.gif_offset
        subprocess.run(
            [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                "-ss",
                f"{start:.2f}",
                "-t",
                str(args.gif_seconds),
                "-i",
                str(mp4),
                "-vf",
                # carmen's window (the right third) and its name tag
                f"crop=iw/3:ih*{(H - CAP_H) / H:.4f}:iw*2/3:0,"
                "fps=5,scale=420:-1:flags=lanczos,split[a][b];[a]palettegen=max_colors=64[p];"
                "[b][p]paletteuse=dither=bayer:bayer_scale=4",
                str(gif),
            ],
            check=True,
            timeout=300,
        )
    lines = [
        "# Tertulia demo video: scenes",
        "",
        "Written by `scripts/demo/record.py` (`make demo-video`). Timestamps are from the",
        "recording.",
        "",
        "| time | scene | |",
        "|---|---|---|",
    ]
    for t, title, detail in marks:
        lines.append(f"| {int(t) // 60}:{int(t) % 60:02d} | {title} | {detail} |")
    lines += ["", "Frames:", ""] + [f"- `{n}` at {t:.0f} s: {title}" for n, title, t in names]
    (out / "scenes.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "demo")
    p.add_argument("--size", default="1600x900", help="size of the encoded video")
    p.add_argument("--crf", type=int, default=28)
    p.add_argument("--pace", type=float, default=1.0, help="multiply every pause by this")
    p.add_argument("--gif-offset", type=float, default=1.0, help="seconds into scene 3")
    p.add_argument("--gif-seconds", type=float, default=20.0)
    p.add_argument(
        "--logs",
        default=os.path.join(tempfile.gettempdir(), "tertulia-demo-logs"),
        help="where the helpers' logs are kept",
    )
    p.add_argument("--keep-raw", type=Path, help="also keep the lossless-ish recording here")
    args = p.parse_args()
    started = time.monotonic()
    demo = Demo(args)
    raw = demo.run()
    log(f"recorded {demo.length:.0f} s")
    encode(raw, args.out, demo.marks, demo.shots, args)
    if args.keep_raw:
        shutil.copy(raw, args.keep_raw)
    shutil.rmtree(raw.parent, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
