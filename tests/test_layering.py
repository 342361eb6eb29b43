"""The layering rule of ARCHITECTURE.md / DEVELOPING.md, checked by walking every import.

Imports flow downward only:

- ``tertulia.proto`` imports only the standard library and msgspec; no I/O or concurrency
  modules (asyncio, socket, ssl, selectors, sqlite3, threading, ...), and nothing of tertulia
  outside ``tertulia.proto``.
- ``tertulia.transport`` may import ``tertulia.proto`` and nothing else of tertulia.
- ``tertulia.server`` and ``tertulia.client`` never import each other, nor ``tertulia.gui`` or
  ``tertulia.cli``.
- ``tertulia.gui`` never imports ``tertulia.server`` or ``tertulia.proto``.

Every import statement counts, including ones inside functions and ``if TYPE_CHECKING:`` blocks:
a type-only import upward is still a dependency upward.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tertulia"

PROTO_FORBIDDEN_STDLIB = frozenset(
    {
        "asyncio",
        "socket",
        "ssl",
        "selectors",
        "select",
        "sqlite3",
        "threading",
        "multiprocessing",
        "concurrent",
        "subprocess",
    }
)
PROTO_ALLOWED_THIRD_PARTY = frozenset({"msgspec"})


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the importing module
    imported: str  # dotted name of what it imports (a module or package)
    where: str  # "path:line"


@dataclass(frozen=True)
class Violation:
    imp: Import
    rule: str

    def __str__(self) -> str:
        return f"{self.imp.where}: {self.imp.importer} imports {self.imp.imported} -- {self.rule}"


# ----------------------------------------------------------------------------- collecting


def module_name(path: Path) -> tuple[str, bool]:
    """Dotted name of a source file under SRC, and whether it is a package ``__init__``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def all_modules() -> dict[str, Path]:
    return {module_name(p)[0]: p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_in(
    source: str, module: str, is_package: bool, known: set[str], filename: str
) -> Iterator[Import]:
    """Every module ``source`` imports. ``from pkg import name`` counts as ``pkg.name`` when
    that is a known tertulia module, else as ``pkg``."""
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(module, sub if sub in known else base, where)


def collect_imports() -> list[Import]:
    modules = all_modules()
    known = set(modules)
    out: list[Import] = []
    for name, path in modules.items():
        _, is_package = module_name(path)
        rel = str(path.relative_to(SRC.parent))
        out.extend(imports_in(path.read_text(encoding="utf-8"), name, is_package, known, rel))
    return out


# ----------------------------------------------------------------------------- rules


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def rule_proto(imp: Import) -> str | None:
    if not within(imp.importer, "tertulia.proto"):
        return None
    top = imp.imported.split(".")[0]
    if top == "tertulia":
        if imp.imported == "tertulia" or within(imp.imported, "tertulia.proto"):
            return None
        return "proto may import nothing of tertulia outside tertulia.proto"
    if top in PROTO_FORBIDDEN_STDLIB:
        return "proto is sans-I/O: no asyncio, sockets, ssl, threads or databases"
    if top in sys.stdlib_module_names or top in PROTO_ALLOWED_THIRD_PARTY:
        return None
    return "proto may import only the standard library and msgspec"


def rule_transport(imp: Import) -> str | None:
    if not within(imp.importer, "tertulia.transport"):
        return None
    name = imp.imported
    if not within(name, "tertulia") or name == "tertulia":
        return None
    if within(name, "tertulia.proto") or within(name, "tertulia.transport"):
        return None
    return "transport may import only tertulia.proto of tertulia"


def _forbid(layer: str, *targets: str) -> Callable[[Import], str | None]:
    def rule(imp: Import) -> str | None:
        if within(imp.importer, layer):
            for target in targets:
                if within(imp.imported, target):
                    return f"{layer} must not import {target}"
        return None

    rule.__name__ = f"rule_{layer.rsplit('.', 1)[-1]}"
    return rule


RULES: list[Callable[[Import], str | None]] = [
    rule_proto,
    rule_transport,
    _forbid("tertulia.server", "tertulia.client", "tertulia.gui", "tertulia.cli"),
    # the client library reaches sockets only through tertulia.transport
    _forbid("tertulia.client", "tertulia.server", "tertulia.gui", "tertulia.cli", "socket"),
    _forbid("tertulia.gui", "tertulia.server", "tertulia.proto", "socket"),
]


def violations(imports: list[Import]) -> list[Violation]:
    out: list[Violation] = []
    for imp in imports:
        for rule in RULES:
            if (why := rule(imp)) is not None:
                out.append(Violation(imp, why))
    return out


# ----------------------------------------------------------------------------- the test


def test_the_walk_sees_the_code() -> None:
    imports = collect_imports()
    importers = {i.importer for i in imports}
    assert "tertulia.proto.codec" in importers
    assert any(i.imported == "msgspec" for i in imports)


def test_layering_rule_holds() -> None:
    found = violations(collect_imports())
    report = "\n".join(str(v) for v in found)
    if found:
        print("Layering violations:\n" + report)
    assert not found, f"{len(found)} import(s) break the layering rule:\n{report}"


# ----------------------------------------------------------------------------- the checker


KNOWN = {
    "tertulia",
    "tertulia.proto",
    "tertulia.proto.codec",
    "tertulia.proto.messages",
    "tertulia.transport",
    "tertulia.transport.tcp",
    "tertulia.server",
    "tertulia.server.app",
    "tertulia.client",
    "tertulia.client.client",
    "tertulia.gui",
    "tertulia.gui.app",
    "tertulia.cli",
    "tertulia.cli.main",
}


def check(module: str, source: str, is_package: bool = False) -> list[str]:
    imports = list(imports_in(source, module, is_package, KNOWN, "<test>"))
    return [f"{v.imp.imported}: {v.rule}" for v in violations(imports)]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("tertulia.proto.codec", "import asyncio"),
        ("tertulia.proto.codec", "import socket as s"),
        ("tertulia.proto.codec", "from ssl import SSLContext"),
        ("tertulia.proto.codec", "from concurrent.futures import Future"),
        ("tertulia.proto.codec", "import sqlite3"),
        ("tertulia.proto.codec", "import threading"),
        ("tertulia.proto.codec", "import selectors"),
        ("tertulia.proto.codec", "import numpy"),
        ("tertulia.proto.codec", "from tertulia.transport import tcp"),
        ("tertulia.proto.codec", "from .. import server"),
        ("tertulia.proto.codec", "def f():\n    import asyncio"),
        ("tertulia.transport.tcp", "from tertulia.server.app import Server"),
        ("tertulia.transport.tcp", "import tertulia.client.client"),
        ("tertulia.server.app", "from tertulia.client import client"),
        ("tertulia.server.app", "from ..cli.main import main"),
        ("tertulia.server.app", "if TYPE_CHECKING:\n    from tertulia.gui import app"),
        ("tertulia.client.client", "from tertulia.server.app import Server"),
        ("tertulia.client.client", "import tertulia.gui"),
        ("tertulia.client", "from ..cli import main"),
        ("tertulia.gui.app", "from tertulia.proto import messages"),
        ("tertulia.gui.app", "from tertulia import proto"),
        ("tertulia.gui.app", "from tertulia.server import app"),
    ],
)
def test_checker_catches(module: str, source: str) -> None:
    is_package = module.count(".") == 1
    assert check(module, source, is_package), f"{module}: {source!r} was not caught"


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("tertulia.proto.codec", "from __future__ import annotations\nimport struct, msgspec"),
        ("tertulia.proto.codec", "from .messages import Ping\nfrom . import messages"),
        ("tertulia.proto.codec", "import msgspec.json\nfrom typing import TYPE_CHECKING"),
        ("tertulia.transport.tcp", "import asyncio, ssl\nfrom tertulia.proto import encode"),
        ("tertulia.server.app", "from tertulia.transport import tcp\nfrom tertulia import proto"),
        ("tertulia.client.client", "from ..transport import tcp\nfrom ..proto import codec"),
        ("tertulia.cli.main", "from tertulia.server import app\nfrom tertulia import client"),
        (
            "tertulia.gui.app",
            "from tertulia.client import client\nfrom tertulia import __version__",
        ),
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert check(module, source) == []


def test_relative_imports_resolve() -> None:
    known = KNOWN
    got = [
        i.imported
        for i in imports_in(
            "from . import codec\nfrom .. import server\nfrom ..client.client import C",
            "tertulia.proto",
            True,
            known,
            "<test>",
        )
    ]
    assert got == ["tertulia.proto.codec", "tertulia.server", "tertulia.client.client"]
    got = [
        i.imported
        for i in imports_in("from .messages import X", "tertulia.proto.codec", False, known, "t")
    ]
    assert got == ["tertulia.proto.messages"]
