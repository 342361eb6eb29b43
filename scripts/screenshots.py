#!/usr/bin/env python3
"""Regenerate docs/screenshots/*.png: a real server, real clients, the real GUI, offscreen.

    make screenshots   # or: QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py

Starts ``tertulia server`` on a free port in a temporary directory, fills it with a believable
conversation through the client library (five people, rooms, a DM, a mention), keeps two of
them online (one typing), then drives the desktop client: the login screen, the trust prompt,
a busy room in light and dark, the reconnecting banner after the server is killed (with a
message waiting in the outbox), and the Spanish interface. Needs the ``gui`` extra and, on a
bare machine, the Debian packages listed in docs/gui.md (fonts-inter and
fonts-noto-color-emoji make the pictures look as intended).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TERTULIA_GUI_NO_KEYRING", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
SIZE = (1240, 780)


# --------------------------------------------------------------------------- server


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.fingerprint = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = data_dir.parent / "server.toml"
        self.config.write_text("[passwords]\ntime_cost = 1\nmemory_cost = 256\nparallelism = 1\n")

    def start(self) -> None:
        cmd = [sys.executable, "-m", "tertulia", "server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        cmd += ["--config", str(self.config), "--log-level", "WARNING"]
        self.log = self.data_dir.parent / "server.log"  # the start banner is logged
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            text = self.log.read_text(errors="replace")
            if mo := re.search(r"listening on (\S+):(\d+)", text):
                self.port = int(mo.group(2))
            if mo := re.search(r"Fingerprint: (SHA256:[0-9A-F:]+)", text):
                self.fingerprint = mo.group(1)
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


# --------------------------------------------------------------------------- population

GENERAL = [
    ("bruno", "Morning all! ☕ Build 0.9.3 is on staging."),
    ("bruno", "Release notes draft: https://docs.example.org/release-0.9.3"),
    ("carmen", "Thanks! Running the smoke tests now."),
    ("ana", "Nice. I'll go through the notes after standup."),
    ("carmen", "Smoke tests green ✅ except the flaky upload one"),
    ("diego", "That upload test has been flaky since the CDN switch."),
    ("diego", "I'll open an issue and pin it to the milestone."),
    ("elena", "/me brings croissants 🥐"),
    ("bruno", "Ha, perfect timing :tada:"),
    ("ana", "Release checklist:\n1. tag v0.9.3\n2. publish packages\n3. announce in #random"),
]
GENERAL_UNREAD = [
    ("diego", "Issue is up: https://tracker.example.org/T-1423"),
    ("carmen", "@ana could you double-check the migration on the staging DB before lunch?"),
    ("carmen", "It should only touch the read markers table, but better safe than sorry."),
]
DESIGN = [
    ("elena", "New empty-state illustrations are in the shared folder 🎨"),
    ("carmen", "Love the dark mode variants!"),
    ("elena", "Thanks! Feedback welcome before Thursday."),
]
CAFE = [
    ("carmen", "¡Buenos días! ¿Quién se apunta al café de las once? ☕"),
    ("diego", "Yo, pero que sea rápido: tengo revisión a las once y media."),
    ("elena", "Me apunto. ¿Probamos la cafetería nueva de la esquina?"),
    ("ana", "¡Vale! Nos vemos abajo a las 11:00 :+1:"),
    ("carmen", "Perfecto. @ana, ¿traes las notas de la reunión de ayer?"),
    ("ana", "Sí, están aquí: https://notas.example.org/reunion-lunes"),
    ("diego", "Gracias :pray:"),
]
RANDOM = [
    ("diego", "Anyone up for lunch at the taquería?"),
    ("bruno", "Count me in 🌮"),
]


async def populate(host: str, port: int, fingerprint: str, base: Path) -> None:
    from tertulia.client import Client, TrustPolicy

    trust = TrustPolicy(fingerprint=fingerprint)
    users = ["ana", "bruno", "carmen", "diego", "elena"]
    clients: dict[str, Client] = {}
    for u in users:
        c = Client(host, port, u, PASSWORD, trust=trust)
        await c.register()
        await c.start()
        clients[u] = c
    ana = clients["ana"]
    await ana.create_room("general", topic="Everything about the Friday release 🚀")
    await ana.create_room("design", topic="Mockups, colours and pixels")
    await ana.create_room("random", topic="Lunch, links and cat pictures")
    await ana.create_room("ops", topic="Servers and deploys")
    await ana.create_room("cafe", topic="Charla en español, café y tertulia ☕")
    for u in users[1:]:
        for room in ("general", "design", "random", "cafe"):
            await clients[u].join(room, create=False)

    async def say(room: str, lines: list[tuple[str, str]]) -> int:
        seq = 0
        for user, text in lines:
            kind = "me" if text.startswith("/me ") else "text"
            entry = await clients[user].send(room, text.removeprefix("/me "), kind)
            seq = (await entry.acked()).seq
            await asyncio.sleep(0.05)
        return seq

    last = await say("general", GENERAL)
    await ana.mark_read("general", last)
    await say("general", GENERAL_UNREAD)
    await say("ops", [("ana", "Staging DB snapshot taken before the migration.")])
    await ana.mark_read("ops", 1)
    await say("design", DESIGN)
    await say("random", RANDOM)
    await ana.mark_read("cafe", await say("cafe", CAFE))
    dm = await clients["bruno"].open_dm("ana")
    await say(dm.name, [("bruno", "Got a minute? I'd like your eyes on the rollout plan 🙏")])
    dm2 = await ana.open_dm("carmen")
    await say(dm2.name, [("carmen", "Sent you the slides."), ("ana", "Got them, thanks!")])
    await ana.mark_read(dm2.name, 2)
    for c in clients.values():
        await c.close()


class Crowd:
    """Keep some people online (and one typing) while the screenshots are taken."""

    def __init__(self, host: str, port: int, fingerprint: str) -> None:
        self.args = (host, port, fingerprint)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.clients: list[object] = []
        self.typing_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        from tertulia.client import Client, TrustPolicy

        host, port, fp = self.args
        for user, status in (("bruno", "online"), ("carmen", "online"), ("elena", "away")):
            c = Client(host, port, user, PASSWORD, trust=TrustPolicy(fingerprint=fp))
            await c.start()
            if status != "online":
                await c.set_presence(status)
            self.clients.append(c)
        bruno = self.clients[0]

        async def keep_typing() -> None:
            while True:
                await bruno.typing("general")  # type: ignore[attr-defined]
                await asyncio.sleep(2)

        self.typing_task = asyncio.get_running_loop().create_task(keep_typing())

    def stop(self) -> None:
        async def _stop() -> None:
            if self.typing_task is not None:
                self.typing_task.cancel()
            for c in self.clients:
                await c.close()  # type: ignore[attr-defined]

        try:
            asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(15)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --------------------------------------------------------------------------- GUI driving


def wait_until(cond: Callable[[], object], timeout: float = 20.0, what: str = "") -> None:
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or cond}")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.4) -> None:
    from PySide6.QtCore import QCoreApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)


def save(widget: object, name: str) -> None:
    settle(0.3)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    widget.grab().save(str(path))  # type: ignore[attr-defined]
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    from PySide6.QtGui import QCursor
    from PySide6.QtWidgets import QApplication

    from tertulia.gui import theme
    from tertulia.gui.app import TertuliaApp

    with tempfile.TemporaryDirectory(prefix="tertulia-shots-") as tmp:
        base = Path(tmp)
        os.environ["TERTULIA_KNOWN_SERVERS"] = str(base / "known_servers")
        server = Server(base / "server")
        server.start()
        crowd: Crowd | None = None
        ctl = None
        try:
            asyncio.run(populate("127.0.0.1", server.port, server.fingerprint, base))
            crowd = Crowd("127.0.0.1", server.port, server.fingerprint)
            crowd.start()

            app = QApplication.instance() or QApplication(["tertulia-gui"])
            app.setFont(theme.pick_font())
            QCursor.setPos(5000, 5000)  # no hover highlight in the pictures
            ctl = TertuliaApp(
                config_dir=base / "gui", language="en", theme="light", backoff_base=2.0
            )
            ctl.settings.host = "127.0.0.1"
            ctl.settings.port = server.port
            ctl.settings.user = "ana"
            ctl.settings.last_room = "general"
            ctl.show_login()
            ctl.connect_window.resize(*SIZE)
            ctl.connect_window.password.setText(PASSWORD)
            save(ctl.connect_window, "login")

            ctl.connect_window.submit.click()
            wait_until(lambda: ctl.trust_dialog is not None, what="trust prompt")
            save(ctl.trust_dialog, "trust")
            ctl.trust_dialog.accept()
            wait_until(
                lambda: ctl.window is not None and ctl.window.isVisible(), what="main window"
            )
            win = ctl.window
            win.resize(*SIZE)
            store = ctl.store
            wait_until(lambda: store.room("general") is not None)
            store.select_room("general")
            wait_until(
                lambda: (
                    store.room("general").model.rowCount() >= len(GENERAL) + len(GENERAL_UNREAD)
                ),
                what="history",
            )
            wait_until(lambda: store.typing_users("general"), what="typing", timeout=10)
            store.set_window_active(False)  # keep the unread divider and badges as they are
            settle(0.6)
            win.view.scroll_to_end()
            save(win, "main-light")

            ctl.set_theme("dark")
            settle(0.3)
            save(win, "main-dark")

            ctl.set_language("es")
            ctl.set_theme("light")
            store.set_window_active(True)
            store.select_room("cafe")
            wait_until(lambda: store.room("cafe").model.rowCount() >= len(CAFE), what="cafe")
            settle(0.4)
            win.view.scroll_to_end()
            save(win, "main-spanish")
            ctl.set_language("en")
            store.select_room("general")

            ctl.set_theme("light")
            server.kill()
            wait_until(lambda: win.banner.isVisible(), what="banner", timeout=15)
            win.composer.setPlainText("Sending this while the server is down…")
            win._submit(win.composer.toPlainText())
            settle(0.5)
            save(win, "reconnecting")
        finally:
            if ctl is not None:
                ctl.shutdown()
            if crowd is not None:
                crowd.stop()
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
