"""Helpers shared by the CLI commands: passwords from the environment or a prompt, the loop."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["PASSWORD_ENV", "CliError", "read_password", "run_async"]

PASSWORD_ENV = "TERTULIA_PASSWORD"
T = TypeVar("T")


class CliError(Exception):
    """A failure to report as ``tertulia: <message>`` with exit code 1."""


def read_password(prompt: str = "Password: ", *, confirm: bool = False) -> str:
    """The password from ``$TERTULIA_PASSWORD``, else an interactive prompt (never argv)."""
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise CliError(f"no password: set {PASSWORD_ENV} or run interactively")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat password: ") != first:
        raise CliError("the passwords do not match")
    return first


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed (Linux default), else stock asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
