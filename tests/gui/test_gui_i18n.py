"""English and Spanish: our strings, Qt's own dialog strings, dates, server error codes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtWidgets import QDialogButtonBox

from tertulia.client import Message
from tertulia.gui import i18n
from tertulia.gui.app import TertuliaApp
from tertulia.gui.models import MessageModel, format_time, presence_label


@pytest.fixture(autouse=True)
def _back_to_english(qapp: Any) -> Iterator[None]:
    yield
    i18n.apply_language("en")


def test_the_spanish_translation_is_built_and_complete(tmp_path: Path) -> None:
    """The .qm is committed (a wheel built from a clean checkout carries it): it must be what
    pyside6-lrelease makes of the .ts today."""
    qm = i18n.TRANSLATIONS_DIR / "tertulia_es.qm"
    assert qm.exists(), "run `make translations` (pyside6-lrelease) and commit the .qm"
    ts_path = i18n.TRANSLATIONS_DIR / "tertulia_es.ts"
    assert 'type="unfinished"' not in ts_path.read_text(encoding="utf-8")
    lrelease = Path(sys.executable).with_name("pyside6-lrelease")
    fresh = tmp_path / "fresh.qm"
    subprocess.run([str(lrelease), "-silent", str(ts_path), "-qm", str(fresh)], check=True)
    assert fresh.read_bytes() == qm.read_bytes(), "stale .qm: run `make translations`, commit it"


def test_system_locale_picks_the_language() -> None:
    assert i18n.resolve_language("system", QLocale("es_ES")) == "es"
    assert i18n.resolve_language("system", QLocale("es_MX")) == "es"
    assert i18n.resolve_language("system", QLocale("en_GB")) == "en"
    assert i18n.resolve_language("system", QLocale("de_DE")) == "en"
    assert i18n.resolve_language("es", QLocale("en_US")) == "es"


def test_spanish_ui_strings_qt_strings_dates_and_errors(
    qtbot: Any, gui_factory: Callable[..., TertuliaApp]
) -> None:
    ctl = gui_factory("es", language="es")
    ctl.show_login()
    w = ctl.connect_window
    assert w.submit.text() == "Iniciar sesión"
    assert w.title.text() == "Bienvenido/a a Tertulia"
    assert w.user_label.text() == "Nombre de usuario"
    # Qt's own strings come from qtbase_es.qm
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    assert box.button(QDialogButtonBox.StandardButton.Cancel).text().replace("&", "") == "Cancelar"
    # dates and times follow the locale
    assert QLocale().language() == QLocale.Language.Spanish
    assert QLocale().toString(QLocale().toDate("2024-06-10", "yyyy-MM-dd"), "dddd") == "lunes"
    assert format_time(0)  # locale short time format, never raises
    # server error codes are translated by the client, with their parameters
    assert i18n.error_text("auth_failed") == "Nombre de usuario o contraseña incorrectos."
    assert i18n.error_text("text_too_long", {"max": 4000}) == (
        "El mensaje es demasiado largo (como mucho 4000 caracteres)."
    )
    assert "(frobnicated)" in i18n.error_text("frobnicated")

    # what a reconnect shows: unknown presence, the gap after a jump
    assert presence_label("unknown") == "presencia desconocida (reconectando)"
    gap = MessageModel("general", "ana")
    gap.add_messages(
        [
            Message(room="general", seq=s, msg_id=f"m{s}", sender="bob", ts=0, text="x")
            for s in (1, 9)
        ]
    )
    gap.set_gap(1, 9)
    assert gap.data(gap.index(1)) == "7 mensajes más, cargando…"

    # switching back to English at run time retranslates the open window
    ctl.set_language("en")
    qtbot.waitUntil(lambda: w.submit.text() == "Log in", timeout=5000)
    assert QCoreApplication.translate("Errors", "Wrong user name or password.") == (
        "Wrong user name or password."
    )
    ctl.set_language("es")
    qtbot.waitUntil(lambda: w.submit.text() == "Iniciar sesión", timeout=5000)
