"""What the GUI remembers between runs: last server and user, preferences, window geometry.

An INI file (``QSettings``) in the config directory (``$XDG_CONFIG_HOME/tertulia`` on Linux).
Passwords never go there: with the optional ``keyring`` package and a working OS keyring
backend, "remember password" stores it in the OS keyring; without one the option is hidden and
the password is not stored at all.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from tertulia.client.trust import KNOWN_SERVERS_ENV
from tertulia.transport.private_files import private_dir

__all__ = ["Keyring", "Settings", "default_config_dir"]

log = logging.getLogger("tertulia.gui.settings")

KEYRING_SERVICE = "tertulia"
#: set to 1 to never touch the OS keyring (tests, kiosks)
NO_KEYRING_ENV = "TERTULIA_GUI_NO_KEYRING"


def default_config_dir() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "tertulia"
    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(loc or Path.home() / ".config") / "tertulia"


class Settings:
    """Typed accessors over one QSettings INI file."""

    def __init__(self, config_dir: Path | None = None) -> None:
        #: given with ``--config-dir`` (then everything lives there, known_servers included)
        self.explicit_dir = config_dir is not None
        self.config_dir = Path(config_dir) if config_dir is not None else default_config_dir()
        # 0700: gui.ini names servers and users, outbox/ holds unsent messages
        private_dir(self.config_dir)
        self._qs = QSettings(str(self.config_dir / "gui.ini"), QSettings.Format.IniFormat)

    def _get(self, key: str, default: Any, kind: type) -> Any:
        value = self._qs.value(key, default)
        if kind is bool:
            return value in (True, "true", "1", 1)
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()

    # connection
    @property
    def host(self) -> str:
        return str(self._get("connection/host", "localhost", str))

    @host.setter
    def host(self, v: str) -> None:
        self._set("connection/host", v)

    @property
    def port(self) -> int:
        return int(self._get("connection/port", 7443, int))

    @port.setter
    def port(self, v: int) -> None:
        self._set("connection/port", v)

    @property
    def user(self) -> str:
        return str(self._get("connection/user", "", str))

    @user.setter
    def user(self, v: str) -> None:
        self._set("connection/user", v)

    @property
    def remember_password(self) -> bool:
        return bool(self._get("connection/remember_password", False, bool))

    @remember_password.setter
    def remember_password(self, v: bool) -> None:
        self._set("connection/remember_password", v)

    @property
    def last_room(self) -> str:
        return str(self._get("connection/last_room", "", str))

    @last_room.setter
    def last_room(self, v: str) -> None:
        self._set("connection/last_room", v)

    # preferences
    @property
    def language(self) -> str:
        return str(self._get("ui/language", "system", str))

    @language.setter
    def language(self, v: str) -> None:
        self._set("ui/language", v)

    @property
    def theme(self) -> str:
        return str(self._get("ui/theme", "system", str))

    @theme.setter
    def theme(self, v: str) -> None:
        self._set("ui/theme", v)

    @property
    def zoom(self) -> int:
        return int(self._get("ui/zoom", 0, int))

    @zoom.setter
    def zoom(self, v: int) -> None:
        self._set("ui/zoom", v)

    @property
    def notifications(self) -> bool:
        return bool(self._get("ui/notifications", True, bool))

    @notifications.setter
    def notifications(self, v: bool) -> None:
        self._set("ui/notifications", v)

    @property
    def sound(self) -> bool:
        return bool(self._get("ui/sound", False, bool))

    @sound.setter
    def sound(self, v: bool) -> None:
        self._set("ui/sound", v)

    def geometry(self) -> QByteArray | None:
        v = self._qs.value("ui/geometry")
        return v if isinstance(v, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self._set("ui/geometry", data)

    # files
    def outbox_path(self, host: str, port: int, user: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{user}@{host}_{port}")
        folder = self.config_dir / "outbox"
        private_dir(folder)  # message texts: 0700, also if an older version made it 0755
        return folder / f"{safe}.jsonl"

    def events_path(self, host: str, port: int, user: str) -> Path:
        """The timeline's local event lines of this account (see :mod:`.eventlog`)."""
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{user}@{host}_{port}")
        return self.config_dir / "events" / f"{safe}.jsonl"

    def known_servers_path(self) -> Path | None:
        """The TOFU file. In order: ``connection/known_servers`` in gui.ini;
        ``$TERTULIA_KNOWN_SERVERS`` (None: the client library reads it); with
        ``--config-dir``, ``known_servers`` in that directory; else None, the client library's
        default, shared with ``tertulia … --tofu``."""
        v = self._qs.value("connection/known_servers")
        if v:
            return Path(str(v))
        if os.environ.get(KNOWN_SERVERS_ENV):
            return None
        if self.explicit_dir:
            return self.config_dir / "known_servers"
        return None


class Keyring:
    """The OS keyring through the optional ``keyring`` package, or nothing at all."""

    def __init__(self) -> None:
        self._kr: Any = None
        if os.environ.get(NO_KEYRING_ENV) == "1":
            return
        try:
            import keyring  # type: ignore[import-not-found, unused-ignore]
            from keyring.backends import fail  # type: ignore[import-not-found, unused-ignore]
        except Exception:
            return
        try:
            backend = keyring.get_keyring()
            if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
                return
        except Exception:
            return
        self._kr = keyring

    @property
    def available(self) -> bool:
        return self._kr is not None

    @staticmethod
    def _account(host: str, port: int, user: str) -> str:
        return f"{user}@{host}:{port}"

    def load(self, host: str, port: int, user: str) -> str | None:
        if self._kr is None:
            return None
        try:
            v = self._kr.get_password(KEYRING_SERVICE, self._account(host, port, user))
            return str(v) if v else None
        except Exception as exc:
            log.info("keyring read failed: %s", exc)
            return None

    def save(self, host: str, port: int, user: str, password: str) -> None:
        if self._kr is None:
            return
        try:
            self._kr.set_password(KEYRING_SERVICE, self._account(host, port, user), password)
        except Exception as exc:
            log.info("keyring write failed: %s", exc)

    def delete(self, host: str, port: int, user: str) -> None:
        if self._kr is None:
            return
        try:
            self._kr.delete_password(KEYRING_SERVICE, self._account(host, port, user))
        except Exception:
            pass
