"""Hypothesis strategies for the wire messages of ``tertulia.proto`` (shared by the proto tests).

Strategies are derived from the msgspec type information of each struct, so a field added to
``messages.py`` is covered without touching the tests. Values stay JSON-safe: integers fit in
64 bits, floats are finite, text has no lone surrogates (hypothesis never generates them).
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from tertulia.proto import messages as m

__all__ = [
    "CLIENT_STRUCTS",
    "SERVER_STRUCTS",
    "client_messages",
    "json_values",
    "server_messages",
    "struct_strategy",
]

CLIENT_STRUCTS: tuple[type[msgspec.Struct], ...] = m.ClientMessage.__args__
SERVER_STRUCTS: tuple[type[msgspec.Struct], ...] = m.ServerMessage.__args__

_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_TEXT = st.text(max_size=20)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | _INT | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=8,
)


def _for_type(t: mi.Type) -> st.SearchStrategy[Any]:
    """A strategy producing values that msgspec encodes and decodes back unchanged as ``t``."""
    if isinstance(t, mi.Metadata):
        return _for_type(t.type)
    if isinstance(t, mi.IntType):
        if t.ge is None and t.le is None:
            return _INT
        return st.integers(min_value=t.ge, max_value=t.le)
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(t, mi.StrType):
        if t.min_length is None and t.max_length is None:
            return _TEXT
        return st.text(min_size=t.min_length or 0, max_size=min(t.max_length or 20, 20))
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.UnionType):
        return st.one_of([_for_type(u) for u in t.types])
    if isinstance(t, mi.ListType):
        return st.lists(_for_type(t.item_type), max_size=3)
    if isinstance(t, mi.DictType):
        return st.dictionaries(_for_type(t.key_type), _for_type(t.value_type), max_size=3)
    if isinstance(t, mi.StructType):
        return struct_strategy(t.cls)
    if isinstance(t, mi.AnyType):
        return json_values
    raise NotImplementedError(f"no strategy for {t!r}: extend proto_strategies._for_type")


def struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Instances of ``cls`` with every field drawn; optional fields sometimes left at default."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    required = {f.name: _for_type(f.type) for f in info.fields if f.required}
    optional = {f.name: _for_type(f.type) for f in info.fields if not f.required}

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        kwargs = {name: draw(s) for name, s in required.items()}
        for name, s in optional.items():
            if draw(st.booleans()):
                kwargs[name] = draw(s)
        return cls(**kwargs)

    return build()


client_messages: st.SearchStrategy[Any] = st.one_of([struct_strategy(c) for c in CLIENT_STRUCTS])
server_messages: st.SearchStrategy[Any] = st.one_of([struct_strategy(c) for c in SERVER_STRUCTS])
