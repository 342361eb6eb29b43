"""Configuration from the environment, and the effective configuration printed for operators.

Environment overrides follow the file's layout: ``TERTULIA__<SECTION>__<KEY>=value`` sets
``[section] key`` (top-level settings are in section ``SERVER``: ``TERTULIA__SERVER__PORT``).
``TERTULIA__<SECTION>__<KEY>__FILE=/path`` reads the value from a file instead (its trailing
newline removed): the way to pass secrets such as a database URL with a password, from a
systemd credential or a container secret, without putting them in the environment of every
child process or in the config file.

Values are converted to the setting's type (``true``/``false``, numbers, paths; a list as a
TOML array or comma-separated). An unknown section or key is an error, as in the file, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tertulia.server.config_types import ConfigError, TypeMismatch, check_value, toml_literal

__all__ = ["ENV_PREFIX", "apply_env", "effective_toml", "mask_secret"]

ENV_PREFIX = "TERTULIA__"
#: settings whose values are secrets: masked by :func:`effective_toml`
SECRET_SETTINGS = frozenset({("store", "url"), ("bus", "url")})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_EXPECTED = {
    "bool": "true or false",
    "int": "a whole number (e.g. 7443)",
    "float": "a number (e.g. 10 or 2.5)",
    "list[str]": "a comma-separated list or a TOML array of strings",
}


def _error(message: str) -> Exception:
    return ConfigError(message)


def _convert(ftype: str, raw: str, where: str) -> Any:
    """``raw`` (an environment string) as the type the dataclass field declares."""
    base = ftype.replace(" ", "").split("|")[0]
    try:
        if base == "bool":
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true or false")
        if base == "int":
            return int(raw)
        if base == "float":
            return float(raw)
        if base.startswith("list["):
            text = raw.strip()
            if text.startswith("["):
                return list(tomllib.loads(f"v = {text}")["v"])
            return [part.strip() for part in text.split(",") if part.strip()]
        if base == "Path":
            return Path(raw).expanduser() if raw else None
    except (ValueError, tomllib.TOMLDecodeError):
        raise _error(f"{where} must be {_EXPECTED.get(base, 'valid')}, not {raw!r}") from None
    return raw


def apply_env(cfg: Any, env: Mapping[str, str], sections: Mapping[str, type]) -> None:
    """Apply every ``TERTULIA__SECTION__KEY[__FILE]`` variable of ``env`` to ``cfg``.

    ``cfg`` is a :class:`~tertulia.server.config.ServerConfig` (any dataclass whose sections
    are ``sections``): typed loosely so that this module, below ``config``, never imports it.
    """
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        from_file = len(parts) == 3 and parts[2] == "FILE"
        if len(parts) != 2 and not from_file:
            raise _error(f"{name}: expected {ENV_PREFIX}SECTION__KEY or ...__KEY__FILE")
        section, key = parts[0].lower(), parts[1].lower()
        raw = env[name]
        if from_file:
            try:
                raw = Path(raw).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise _error(f"{name}: cannot read {raw}: {exc.strerror}") from None
        if section == "server":
            target: Any = cfg
        elif section in sections:
            target = getattr(cfg, section)
        else:
            raise _error(f"{name}: unknown config section [{section}]")
        fields = {f.name: f for f in dataclasses.fields(target)}
        field = fields.get(key)
        if field is None or dataclasses.is_dataclass(getattr(target, key)):
            raise _error(f"{name}: unknown setting [{section}] {key!r}")
        setattr(target, key, _checked(str(field.type), _convert(str(field.type), raw, name), name))


def _checked(ftype: str, value: Any, name: str) -> Any:
    """``value`` type-checked like a value from the file; the error shows the right form."""
    try:
        return check_value(ftype, value)
    except TypeMismatch as exc:
        raise _error(f"{name} must be {exc.expected}, not {value!r}") from None


def mask_secret(value: str) -> str:
    """A URL with its password replaced by ``***`` (``scheme://user:***@host``)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)


def effective_toml(cfg: Any) -> str:
    """The whole configuration as TOML, secrets masked: what ``tertulia server check`` prints.

    Settings that are unset (``None``, e.g. no operator certificate) appear as comments.
    """
    top: list[str] = ["[server]"]
    sections: list[str] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            lines = ["", f"[{f.name}]"]
            for sf in dataclasses.fields(value):
                lines.append(_line(f.name, sf.name, getattr(value, sf.name)))
            sections.extend(lines)
        else:
            top.append(_line("server", f.name, value))
    return "\n".join(top + sections) + "\n"


def _line(section: str, key: str, value: Any) -> str:
    if value is None:
        return f"# {key} = (not set)"
    if (section, key) in SECRET_SETTINGS and isinstance(value, str):
        value = mask_secret(value)
    return f"{key} = {toml_literal(value)}"
