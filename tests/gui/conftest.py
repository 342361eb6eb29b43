"""GUI tests: the real desktop client, offscreen, against real servers (pytest-qt)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["TERTULIA_GUI_NO_KEYRING"] = "1"

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import PySide6.QtWidgets  # noqa: F401
except ImportError:  # without the gui extra only the "how to install it" test can run
    collect_ignore_glob = ["test_gui_[!c]*.py"]
    TertuliaApp: Any = None
else:
    from PySide6.QtCore import QCoreApplication, QEvent

    from tertulia.gui.app import TertuliaApp


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of the user's: own known_servers file, config dir, no keyring."""
    monkeypatch.setenv("TERTULIA_KNOWN_SERVERS", str(tmp_path / "known_servers"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def proxy_factory() -> Iterator[Callable[..., Any]]:
    """``make(server)`` -> a :class:`guikit.ProxyThread` in front of it (closed after)."""
    from guikit import ProxyThread

    proxies: list[Any] = []

    def make(server: Any) -> Any:
        proxy = ProxyThread(server)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def gui_factory(qtbot: Any, tmp_path: Path) -> Iterator[Callable[..., TertuliaApp]]:
    """``make(name="a", language="en")`` -> a TertuliaApp with its own config dir."""
    apps: list[TertuliaApp] = []

    def make(name: str = "a", language: str = "en", theme: str = "light") -> TertuliaApp:
        ctl = TertuliaApp(
            config_dir=tmp_path / f"gui-{name}",
            language=language,
            theme=theme,
            backoff_base=0.2,
            backoff_cap=1.0,
        )
        apps.append(ctl)
        return ctl

    yield make
    for ctl in apps:
        ctl.shutdown()
        ctl.connect_window.deleteLater()
    # really gone before the next test (a hidden window still re-lays out its timeline when
    # that test changes the theme or the language)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
