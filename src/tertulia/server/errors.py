"""The exception command handlers raise to answer a request with an ``error`` frame."""

from __future__ import annotations

from typing import Any

from tertulia.proto.errors import ErrorCode

__all__ = ["CommandError"]


class CommandError(Exception):
    """A request failed in an expected way; the session turns it into an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params
