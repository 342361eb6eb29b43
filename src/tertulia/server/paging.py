"""Pages of list replies (``room_list``, ``member_list``, ``ban_list``): cursor and size.

A list reply carries at most ``limits.max_list_page`` entries, sorted by name, and the cursor
of the next page (``next``: the last name of this page) while more follow. The cursor is a
name, not an offset, so a page never repeats or skips an entry that was not added or removed
meanwhile, and a hostile cursor costs one comparison. The configuration guarantees that a page
of maximal entries fits in a server frame (``ServerConfig._validate_reply_sizes``), which is
what keeps every reply below the protocol's 16 MiB (issue 12: one user's 8,200 rooms made a
17.2 MiB ``room_list``). Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["page_of", "page_size"]

T = TypeVar("T")


def page_size(requested: int | None, most: int) -> int:
    """Entries for this page: what the client asked for (0 or absent: the most), capped."""
    if not requested:
        return most
    return min(requested, most)


def page_of(names: Iterable[str], cursor: str | None, size: int) -> tuple[list[str], str | None]:
    """The first ``size`` of the sorted ``names`` after ``cursor``, and the next cursor."""
    after = [n for n in sorted(set(names)) if cursor is None or n > cursor]
    page = after[:size]
    return page, (page[-1] if len(after) > size else None)
