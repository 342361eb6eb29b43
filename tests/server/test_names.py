"""Name normalization (PRECIS UsernameCaseMapped) and confusable skeletons (UTS #39)."""

from __future__ import annotations

import pytest

from tertulia.server.names import InvalidName, normalize_name, skeleton


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Alice", "alice"),
        ("\uff21\uff2c\uff29\uff23\uff25", "alice"),  # full width is mapped
        ("ÅngStröm", "ångström"),
        ("A\u030angstrom", "ångstrom"),  # NFC
        ("a.b-c_d", "a.b-c_d"),
        ("ΣΑΣ", "σας"),
    ],
)
def test_normalization(raw: str, canonical: str) -> None:
    assert normalize_name(raw, 32) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a b",  # space
        "ab\x00",  # control
        "a\x7fb",
        "a\u200bb",  # zero-width space
        "a\u200db",  # zero-width joiner
        "a\ufeffb",  # BOM / zero-width no-break space
        "a\u202eb",  # right-to-left override
        "a\u2066b",  # left-to-right isolate
        "ﬁx",  # compatibility ligature
        "x:y",  # reserved for dm: names
        "-ab",
        "a/b",
        "x" * 33,
        "x" * 10_000,
    ],
)
def test_rejected(raw: str) -> None:
    with pytest.raises(InvalidName):
        normalize_name(raw, 32)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "\u0430lice"),  # Cyrillic a
        ("alice", "alic\u0435"),  # Cyrillic e
        ("paypal", "p\u0430yp\u0430l"),
        ("bob1", "bobl"),
        ("b0b", "bob"),
        ("morn", "rnorn"),
        ("admin", "\u0430dmin"),
        ("root", "r\u043e\u043et"),
    ],
)
def test_confusables_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(normalize_name(a, 32)) == skeleton(normalize_name(b, 32))


@pytest.mark.parametrize(("a", "b"), [("ana", "anna"), ("bob", "rob"), ("alice", "alicia")])
def test_distinct_names_have_distinct_skeletons(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)


def test_skeleton_is_idempotent() -> None:
    for name in ("alice", "\u0430lice", "rnorn", "b0b", "ωmega"):
        s = skeleton(name)
        assert skeleton(s) == s
