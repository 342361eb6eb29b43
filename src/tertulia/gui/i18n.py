"""Languages: Qt Linguist translations of our strings and of Qt's own, and the texts of errors.

Our strings are marked with ``self.tr()`` / ``QCoreApplication.translate()`` and live in
``translations/tertulia_<lang>.ts``; ``make translations`` compiles them to ``.qm`` with
``pyside6-lrelease``. Qt's own strings (the buttons of standard dialogs, context menus) come
from the ``qtbase_<lang>.qm`` that ships with PySide6. Dates and times are formatted with
``QLocale()``, which :func:`apply_language` sets as the default.

Server error codes are translated here, never shown raw: the protocol says ``message`` is for
logs, and the client picks its own text by ``code``, filled from ``params``.
"""

from __future__ import annotations

import errno
import ssl
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from tertulia.client import ClientOffline, ConnectionLost, ServerError, TrustError
from tertulia.client.trust import (
    CertificateChangedError,
    CertificateMismatchError,
    CertificateRejectedError,
)

__all__ = [
    "LANGUAGES",
    "apply_language",
    "describe_error",
    "error_text",
    "resolve_language",
]

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: code -> name of the language in that language
LANGUAGES = {"en": "English", "es": "Español"}

_installed: list[QTranslator] = []


def resolve_language(choice: str, system: QLocale | None = None) -> str:
    """``"system"`` -> the first supported language of the system's UI languages, else English."""
    if choice in LANGUAGES:
        return choice
    loc = system if system is not None else QLocale.system()
    for tag in [*loc.uiLanguages(), loc.name()]:
        lang = tag.replace("-", "_").split("_")[0].lower()
        if lang in LANGUAGES:
            return lang
    return "en"


def apply_language(lang: str) -> bool:
    """Install the translators for ``lang`` (replacing earlier ones) and make it the default
    locale. Widgets retranslate on the ``LanguageChange`` event Qt then sends. Returns whether
    our own translation was found (English needs none)."""
    app = QCoreApplication.instance()
    for t in _installed:
        if app is not None:
            QCoreApplication.removeTranslator(t)
    _installed.clear()
    QLocale.setDefault(QLocale(lang))
    if lang == "en":
        return True
    found = False
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    for name, directory in ((f"qtbase_{lang}", qt_dir), (f"tertulia_{lang}", TRANSLATIONS_DIR)):
        t = QTranslator()
        if t.load(name, str(directory)):
            QCoreApplication.installTranslator(t)
            _installed.append(t)
            found = found or name.startswith("tertulia")
    return found


def error_text(code: str, params: dict[str, Any] | None = None) -> str:
    """The user-facing text for a server error ``code`` (translated, filled from ``params``)."""
    p = params or {}
    texts = {
        "auth_failed": QCoreApplication.translate("Errors", "Wrong user name or password."),
        "name_taken": QCoreApplication.translate("Errors", "That user name is already taken."),
        "weak_password": QCoreApplication.translate(
            "Errors", "The password must have at least %1 characters."
        ),
        "invalid_name": QCoreApplication.translate(
            "Errors",
            "Invalid name: use letters, digits, '_', '-' and '.', starting with a letter or digit.",
        ),
        "registration_closed": QCoreApplication.translate(
            "Errors", "This server does not allow new accounts. Ask its operator."
        ),
        "room_not_found": QCoreApplication.translate(
            "Errors", "There is no such room, or it is private."
        ),
        "room_exists": QCoreApplication.translate(
            "Errors", "A room with that name already exists."
        ),
        "not_member": QCoreApplication.translate("Errors", "You are not a member of that room."),
        "forbidden": QCoreApplication.translate("Errors", "That is not allowed in this room."),
        "user_not_found": QCoreApplication.translate("Errors", "There is no user with that name."),
        "text_too_long": QCoreApplication.translate(
            "Errors", "The message is too long (at most %1 characters)."
        ),
        "invalid_argument": QCoreApplication.translate(
            "Errors", "The server refused that request as invalid."
        ),
        "msg_id_conflict": QCoreApplication.translate(
            "Errors", "The message could not be stored (duplicate id)."
        ),
        "rate_limited": QCoreApplication.translate(
            "Errors", "You are sending too fast. Wait a moment."
        ),
        "slow_consumer": QCoreApplication.translate(
            "Errors", "The connection was too slow to keep up."
        ),
        "timeout": QCoreApplication.translate("Errors", "The connection timed out."),
        "shutting_down": QCoreApplication.translate("Errors", "The server is restarting."),
        "internal": QCoreApplication.translate("Errors", "The server had an internal problem."),
        "unsupported_version": QCoreApplication.translate(
            "Errors", "This server speaks a protocol version we do not."
        ),
        "frame_too_large": QCoreApplication.translate(
            "Errors", "The request was too large for the server."
        ),
        "bad_message": QCoreApplication.translate(
            "Errors", "The server did not understand a request."
        ),
        "bad_json": QCoreApplication.translate(
            "Errors", "The server did not understand a request."
        ),
        "unknown_type": QCoreApplication.translate(
            "Errors", "The server did not understand a request."
        ),
        "not_authenticated": QCoreApplication.translate("Errors", "Not logged in."),
    }
    text = texts.get(code) or QCoreApplication.translate(
        "Errors", "The server refused the request (%1)."
    ).replace("%1", code)
    if code == "weak_password":
        text = text.replace("%1", str(p.get("min", 8)))
    elif code == "text_too_long":
        text = text.replace("%1", str(p.get("max", "?")))
    return text


def describe_error(exc: BaseException | None) -> str:
    """A translated one-paragraph explanation of why connecting or a request failed."""
    if exc is None:
        return QCoreApplication.translate("Errors", "The connection was lost.")
    if isinstance(exc, ClientOffline) and exc.error is not None:
        return describe_error(exc.error)
    if isinstance(exc, ServerError):
        return error_text(exc.code, exc.params)
    if isinstance(exc, ConnectionLost):
        if exc.code:
            return error_text(exc.code)
        return QCoreApplication.translate("Errors", "The connection to the server was lost.")
    if isinstance(exc, CertificateChangedError):
        return (
            QCoreApplication.translate(
                "Errors",
                "The server's certificate has CHANGED since you first trusted it. This may "
                "be an attack: someone may be intercepting the connection. Nothing was sent "
                "(no password, no message).\n\nRemembered: %1\nReceived now: %2\n\nAsk the "
                "server operator whether they replaced the certificate and compare the "
                "fingerprints (they see theirs with 'tertulia admin fingerprint'). Only if "
                "they match, remove the line for %3 from %4 and connect again.",
            )
            .replace("%1", exc.expected)
            .replace("%2", exc.received)
            .replace("%3", f"{exc.host}:{exc.port}")
            .replace("%4", str(exc.known_servers_path))
        )
    if isinstance(exc, CertificateMismatchError):
        return (
            QCoreApplication.translate(
                "Errors",
                "The server's certificate does not match the expected fingerprint. "
                "Nothing was sent.\n\nExpected: %1\nReceived: %2",
            )
            .replace("%1", exc.expected)
            .replace("%2", exc.received)
        )
    if isinstance(exc, CertificateRejectedError):
        return QCoreApplication.translate(
            "Errors", "You did not trust the server's certificate, so nothing was sent."
        )
    if isinstance(exc, TrustError):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        return QCoreApplication.translate(
            "Errors", "The secure connection could not be set up (%1)."
        ).replace("%1", exc.reason or str(exc))
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED
    ):
        return QCoreApplication.translate(
            "Errors", "The server refused the connection. Is it running on that port?"
        )
    if isinstance(exc, TimeoutError):
        return QCoreApplication.translate("Errors", "The server did not answer in time.")
    if isinstance(exc, OSError) and exc.errno in (-2, -3, -5, errno.ENOENT):
        return QCoreApplication.translate("Errors", "The server name could not be found.")
    if isinstance(exc, OSError):
        return QCoreApplication.translate("Errors", "Cannot reach the server (%1).").replace(
            "%1", exc.strerror or str(exc)
        )
    return str(exc)
