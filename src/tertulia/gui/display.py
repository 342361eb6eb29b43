"""Is there a display to open windows on? Asked before Qt is started (no Qt here).

Without one, Qt prints several lines about platform plugins and aborts the process (SIGABRT,
"could not connect to display"). ``tertulia gui`` instead says in one line what is missing and
how to fix it, and exits with status 1. Only X11/Wayland systems are checked (macOS and Windows
always have their own platform), and an explicit ``QT_QPA_PLATFORM`` that needs no display
(``offscreen``, ``vnc``, ``eglfs``, ...) is respected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["display_problem"]

_FIX = "run it from a graphical desktop session, or over SSH with X forwarding (ssh -X)"
#: platform plugins that need a display server, and the variable that names it
_NEEDS = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY", "wayland-egl": "WAYLAND_DISPLAY"}


def display_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """None if Qt can open windows; else the one-line message to print."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return None
    head = "tertulia: cannot start the desktop client:"
    qpa = env.get("QT_QPA_PLATFORM", "").strip()
    if qpa:
        # a list of fallbacks ("wayland;xcb"), each with optional arguments ("vnc:size=...")
        names = [part.split(":", 1)[0].strip() for part in qpa.split(";") if part.strip()]
        missing = [_NEEDS[n] for n in names if n in _NEEDS and not env.get(_NEEDS[n])]
        if len(missing) < len(names):
            return None
        needs = " or ".join(dict.fromkeys(missing))
        return f"{head} QT_QPA_PLATFORM={qpa} needs {needs}, which is not set; {_FIX}"
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return f"{head} no display (neither DISPLAY nor WAYLAND_DISPLAY is set); {_FIX}"
