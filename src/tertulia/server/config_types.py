"""Type checks for configuration values, with the fix in the message.

TOML has types, and a quoted number (``port = "7443"``) is a string: accepting it silently
would be a guess, and passing it on unchecked ends in a ``TypeError`` deep in the validation.
Each value from the file or the environment is checked here against the type its dataclass
field declares, and a mismatch says what was expected and what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "TypeMismatch", "check_value", "describe", "toml_literal"]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the setting.

    Defined here, below both :mod:`~tertulia.server.config` and
    :mod:`~tertulia.server.config_env`, so that neither imports the other for it.
    """


class TypeMismatch(ValueError):
    """``value`` is not of the declared type; ``expected`` says what would be."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _literal_choices(base: str) -> list[str] | None:
    mo = re.fullmatch(r"Literal\[(.*)\]", base)
    if mo is None:
        return None
    return [part.strip().strip("'\"") for part in mo.group(1).split(",")]


def check_value(ftype: str, value: Any) -> Any:
    """``value`` converted to the field type ``ftype`` (a string annotation), or TypeMismatch.

    Integers are accepted where a float is declared (``timeout = 10``); nothing else is
    converted: a string is never taken for a number, nor a number for a boolean.
    """
    optional = "None" in ftype.replace(" ", "").split("|")
    base = ftype.replace(" ", "").split("|")[0]
    if value is None and optional:
        return None
    if base == "bool":
        if isinstance(value, bool):
            return value
        raise TypeMismatch("true or false")
    if base == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeMismatch("a whole number")
    if base == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeMismatch("a number")
    if base == "str":
        if isinstance(value, str):
            return value
        raise TypeMismatch("a quoted string")
    if base == "Path":
        if isinstance(value, str | Path):
            return Path(value).expanduser()
        raise TypeMismatch("a quoted path")
    if base.startswith("list["):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise TypeMismatch("a list of quoted strings")
    choices = _literal_choices(base)
    if choices is not None:
        if isinstance(value, str) and value in choices:
            return value
        raise TypeMismatch("one of " + ", ".join(f'"{c}"' for c in choices))
    return value


def describe(value: Any) -> str:
    """How a wrong value reads in an error: ``the string "abc"``, ``the number 5``."""
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the string {toml_literal(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return f"the list {toml_literal(value)}"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def toml_literal(value: Any) -> str:
    """``value`` as it is written in TOML (for examples of the right spelling)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
