#!/usr/bin/env python3
"""One Tertulia desktop client of the demo, driven by ``record.py`` (see ``channel.py``).

This is the real application (:class:`tertulia.gui.app.TertuliaApp`, the same object
``tertulia gui`` runs) in a process of its own, with its own language, settings directory and
known-servers file. The driver only does what a person would do, through the widgets: it types
into the login form and the composer key by key (``QTest``), presses Enter, clicks buttons and
list rows, scrolls. Read-only queries (``count``, ``state``) let the driver check what each
window really shows, e.g. that a message appears exactly once.

Windows that are hidden behind the terminal in some scenes get their text with
``submit_direct`` (the composer's own submit path, without the key presses).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TERTULIA_GUI_NO_KEYRING", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from channel import CommandRunner, until


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--lang", default="en")
    p.add_argument("--theme", default="light")
    p.add_argument("--config-dir", type=Path, required=True)
    p.add_argument("--geometry", default="0,0,640,900")
    args = p.parse_args()

    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    from tertulia.gui import theme
    from tertulia.gui.app import TertuliaApp

    QApplication.setApplicationName("Tertulia")
    QApplication.setDesktopFileName("tertulia")
    app = QApplication([f"tertulia-gui-{args.name}"])
    app.setFont(theme.pick_font())
    ctl = TertuliaApp(
        config_dir=args.config_dir,
        language=args.lang,
        theme=args.theme,
        backoff_base=1.0,
        backoff_cap=8.0,
    )
    geom = [int(v) for v in args.geometry.split(",")]

    def place(w: QWidget, g: list[int] | None = None) -> None:
        x, y, width, height = g or geom
        w.setMinimumSize(200, 200)
        w.resize(width, height)
        w.move(x, y)

    def win() -> Any:
        assert ctl.window is not None, "not logged in"
        return ctl.window

    def type_into(widget: QWidget, text: str, cps: float) -> Any:
        """Key by key, like a person (``:shortcode:`` emoji are typed as such)."""
        for ch in text:
            if ch.isascii():
                QTest.keyClicks(widget, ch)
            else:  # QTest only knows ASCII keys: a key event that carries the character
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    ev = QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, ch)
                    QApplication.sendEvent(widget, ev)
            yield 1.0 / cps if ch != " " else 0.6 / cps

    # ------------------------------------------------------------------ commands

    def login(
        host: str, port: int, user: str, password: str, register: bool = False, cps: float = 14
    ) -> Any:
        ctl.settings.host = host
        ctl.settings.port = port
        ctl.settings.user = ""
        ctl.show_login()
        cw = ctl.connect_window
        place(cw)
        cw.activateWindow()
        yield 0.8
        if register:
            QTest.mouseClick(cw.mode_register, Qt.MouseButton.LeftButton)
            yield 0.5
        cw.user.setFocus()
        yield from type_into(cw.user, user, cps)
        yield 0.2
        cw.password.setFocus()
        yield from type_into(cw.password, password, cps * 2)
        if register:
            cw.confirm.setFocus()
            yield from type_into(cw.confirm, password, cps * 2)
        yield 0.4
        QTest.mouseClick(cw.submit, Qt.MouseButton.LeftButton)
        yield until(lambda: ctl.trust_dialog is not None or ctl.window is not None, 30, "login")
        return "trust" if ctl.window is None else "window"

    def trust(pause: float = 0.0) -> Any:
        yield until(lambda: ctl.trust_dialog is not None, 20, "trust prompt")
        dlg = ctl.trust_dialog
        assert dlg is not None
        yield pause
        QTest.mouseClick(dlg.trust_button, Qt.MouseButton.LeftButton)
        yield until(lambda: ctl.window is not None and ctl.window.isVisible(), 30, "main window")
        w = win()
        place(w)
        w.activateWindow()
        return dlg.fingerprint

    def fingerprint_shown() -> str:
        return ctl.trust_dialog.fingerprint if ctl.trust_dialog is not None else ""

    def type_text(text: str, cps: float = 16, enter: bool = True) -> Any:
        w = win()
        w.activateWindow()
        w.composer.setFocus()
        yield 0.15
        yield from type_into(w.composer, text, cps)
        yield 0.35
        if enter:
            QTest.keyClick(w.composer, Qt.Key.Key_Return)
        yield 0.1

    def submit_direct(text: str) -> bool:
        w = win()
        return bool(w.store.submit(text))

    def select(room: str, click: bool = True) -> Any:
        w = win()
        store = w.store
        yield until(lambda: store.room(room) is not None, 20, f"room {room}")
        row = store.room_list.row_of(room)
        if click and row is not None and w.isVisible():
            view = w.room_view
            rect = view.visualRect(store.room_list.index(row))
            QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            yield 0.2
        if store.current != room:
            store.select_room(room)
        return store.current

    def room_of(room: str | None) -> Any:
        w = win()
        return w.store.room(room or w.store.current)

    def count(text: str, room: str | None = None) -> dict[str, Any]:
        st = room_of(room)
        if st is None:
            return {"confirmed": 0, "pending": 0, "states": []}
        rows = [r for r in st.model.rows if r.kind == "message" and r.text == text]
        return {
            "confirmed": sum(1 for r in rows if not r.pending),
            "pending": sum(1 for r in rows if r.pending),
            "states": [r.state for r in rows],
        }

    def wait_text(text: str, room: str | None = None, timeout: float = 20) -> Any:
        yield until(lambda: count(text, room)["confirmed"] >= 1, timeout, f"message {text!r}")
        return count(text, room)

    def wait_room(room: str, timeout: float = 20) -> Any:
        yield until(lambda: win().store.room(room) is not None, timeout, f"room {room}")
        return True

    def state() -> dict[str, Any]:
        w = ctl.window
        if w is None:
            return {"logged_in": False}
        return {
            "logged_in": True,
            "state": w.store.state.value,
            "banner": w.banner.isVisible(),
            "banner_text": w.banner.label.text(),
            "current": w.store.current,
            "rooms": w.store.room_list.names(),
        }

    def wait_state(value: str, timeout: float = 30) -> Any:
        yield until(lambda: win().store.state.value == value, timeout, f"state {value}")
        return True

    def wait_banner(visible: bool = True, timeout: float = 30) -> Any:
        yield until(lambda: win().banner.isVisible() == visible, timeout, "banner")
        return win().banner.label.text()

    def click_retry() -> Any:
        """Press "Retry now" on the banner (False if the client had reconnected already)."""
        w = win()
        yield until(
            lambda: (
                (w.banner.isVisible() and w.banner.button.isVisible())
                or w.store.state.value == "connected"
            ),
            20,
            "retry button",
        )
        if w.store.state.value == "connected":
            return False
        QTest.mouseClick(w.banner.button, Qt.MouseButton.LeftButton)
        return True

    def show(visible: bool = True) -> bool:
        """Bring the window to the front, or send it behind everything (the terminal shows).

        Lowered, not hidden: a hidden window would not be a window the person sees, and the
        app would (rightly) behave differently.
        """
        w = ctl.window if ctl.window is not None else ctl.connect_window
        if visible:
            w.show()
            w.raise_()
        else:
            w.lower()
        return True

    def geometry(x: int, y: int, w: int, h: int) -> bool:
        target = ctl.window if ctl.window is not None else ctl.connect_window
        place(target, [x, y, w, h])
        return True

    def members(visible: bool) -> bool:
        win().members_button.setChecked(visible)
        return True

    def scroll(to: str = "top", seconds: float = 1.5) -> Any:
        """Scroll the timeline smoothly (history loads as it nears the top)."""
        bar = win().view.verticalScrollBar()
        steps = max(1, int(seconds / 0.03))
        for i in range(1, steps + 1):
            target = bar.minimum() if to == "top" else bar.maximum()
            start = bar.value()
            bar.setValue(int(start + (target - start) * (i / steps)))
            yield 0.03
        if to == "bottom":
            win().view.scroll_to_end()
        return bar.value()

    def activate() -> bool:
        win().activateWindow()
        return True

    def quit_() -> bool:
        ctl.shutdown()
        app.quit()
        return True

    handlers = {
        "login": login,
        "trust": trust,
        "fingerprint_shown": fingerprint_shown,
        "type": type_text,
        "submit_direct": submit_direct,
        "select": select,
        "count": count,
        "wait_text": wait_text,
        "wait_room": wait_room,
        "state": state,
        "wait_state": wait_state,
        "wait_banner": wait_banner,
        "click_retry": click_retry,
        "show": show,
        "geometry": geometry,
        "members": members,
        "scroll": scroll,
        "activate": activate,
        "quit": quit_,
    }
    runner = CommandRunner(handlers)  # keep a reference: its timer drives the commands
    started = time.monotonic()
    rc = app.exec()
    print(f"puppet {args.name} exits after {time.monotonic() - started:.0f} s", file=sys.stderr)
    del runner
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
