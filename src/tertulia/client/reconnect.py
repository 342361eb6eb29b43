"""Keep a connection up: a small state machine around "connect, run until it drops, wait, retry".

Theory of operation. States, and the transitions between them::

    OFFLINE --start()--> CONNECTING --connected--> CONNECTED --link lost--> RECONNECTING
                              |  ^                                              |
                              |  +--------- delay elapsed, or retry_now() -----+
                              +--retryable failure--> RECONNECTING
    any state --stop(), or a non-retryable failure (auth_failed, trust)--> OFFLINE

Delays come from :func:`tertulia.proto.backoff.backoff_delays` (exponential with full jitter,
base 0.5 s, cap 30 s by default), so a crowd of clients thrown out by a server restart comes
back spread over time instead of all at once. The delay sequence starts over once a connection
has stayed up for ``healthy_after`` seconds: a server that accepts and then drops us right away
keeps backing off, a long-lived link that breaks once retries almost at once.

The policy is pure; the only I/O is the injected ``connect`` coroutine, and the only waiting
goes through the injected ``sleep``, so tests drive the machine with a fake clock.
:meth:`Reconnector.retry_now` cuts a pending wait short (a GUI's "retry now" button, or the
network coming back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from tertulia.client.connection import ConnectionLost, ServerError
from tertulia.client.trust import TrustError
from tertulia.proto.backoff import backoff_delays

__all__ = [
    "NON_RETRYABLE_CODES",
    "ConnState",
    "ConnectionStateChanged",
    "Link",
    "Reconnector",
    "is_retryable",
]

log = logging.getLogger("tertulia.client.reconnect")

#: Server error codes that another attempt cannot fix: a person has to change something.
NON_RETRYABLE_CODES = frozenset(
    {
        "auth_failed",
        "unsupported_version",
        "registration_closed",
        "invalid_name",
        "account_disabled",
    }
)


class ConnState(StrEnum):
    """What the client is doing about its connection (shown by GUIs as-is)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    """Event: the connection state changed.

    ``retry_in`` is the number of seconds until the next attempt (RECONNECTING only);
    ``error`` is what ended the previous connection or attempt, if anything (for OFFLINE after
    a non-retryable failure it is the reason the client gave up); ``attempt`` counts failed
    attempts since the last healthy connection.
    """

    state: ConnState
    retry_in: float | None = None
    error: BaseException | None = None
    attempt: int = 0


class Link(Protocol):
    """What ``connect`` returns: something that can tell when it has ended, and why."""

    async def wait_closed(self) -> BaseException | None: ...


def is_retryable(exc: BaseException | None) -> bool:
    """Whether a failure is worth another attempt without a person stepping in.

    Network errors, timeouts and server goodbyes (``shutting_down``, ``slow_consumer``...) are;
    wrong credentials, a certificate that fails the trust policy, and an unsupported protocol
    version are not: retrying those would only hammer the server or hide an attack.
    """
    if exc is None:
        return True
    if isinstance(exc, ConnectionLost):  # the server's bye/fatal error code, if it gave one
        return exc.code not in NON_RETRYABLE_CODES
    if isinstance(exc, TrustError | ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, ServerError):
        return exc.code not in NON_RETRYABLE_CODES
    # anything else is a bug on one side or the other: retrying would only repeat it
    return isinstance(exc, OSError | TimeoutError | EOFError)


StateCallback = Callable[[ConnectionStateChanged], None]


class Reconnector:
    """Runs ``connect`` again and again, backing off, until stopped or told it is hopeless.

    ``connect()`` must return a :class:`Link` once the session is fully usable (logged in,
    caught up) or raise. ``on_state`` is called synchronously on every transition.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[Link]],
        *,
        on_state: StateCallback | None = None,
        base: float = 0.5,
        cap: float = 30.0,
        healthy_after: float = 10.0,
        retryable: Callable[[BaseException | None], bool] = is_retryable,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._connect = connect
        self._on_state = on_state
        self.base = base
        self.cap = cap
        self.healthy_after = healthy_after
        self._retryable = retryable
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.state = ConnState.OFFLINE
        self.last_error: BaseException | None = None
        self.attempt = 0
        self.link: Link | None = None
        self._retry_at: float | None = None

    def __repr__(self) -> str:
        return f"<Reconnector {self.state.value} attempt={self.attempt}>"

    @property
    def retry_in(self) -> float | None:
        """Seconds left before the next attempt while RECONNECTING (for a GUI countdown)."""
        if self._retry_at is None:
            return None
        return max(0.0, self._retry_at - self._clock())

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Begin connecting in a background task (no-op when already running)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tertulia-reconnect")

    def retry_now(self) -> None:
        """Skip the rest of the current wait and try at once (only meaningful in RECONNECTING)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop trying and wait for the background task to end; state becomes OFFLINE.

        The caller closes the current link itself (this only stops the loop).
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set(ConnectionStateChanged(ConnState.OFFLINE))

    async def wait_stopped(self) -> None:
        """Wait until the loop has ended (stopped, or gave up on a non-retryable error)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    # ------------------------------------------------------------------ the loop

    def _set(self, ev: ConnectionStateChanged) -> None:
        changed = ev.state != self.state or ev.state == ConnState.RECONNECTING
        self.state = ev.state
        if changed and self._on_state is not None:
            try:
                self._on_state(ev)
            except Exception:
                log.exception("state callback failed")

    async def _run(self) -> None:
        delays = backoff_delays(self.base, self.cap, self._rng)
        self.attempt = 0
        while not self._stopping:
            self._set(ConnectionStateChanged(ConnState.CONNECTING, attempt=self.attempt))
            try:
                link = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error: BaseException | None = exc
                log.info("connection attempt failed: %s", exc)
            else:
                self.link = link
                self.last_error = None
                up_since = self._clock()
                self._set(ConnectionStateChanged(ConnState.CONNECTED, attempt=self.attempt))
                error = await link.wait_closed()
                self.link = None
                if self._clock() - up_since >= self.healthy_after:
                    delays = backoff_delays(self.base, self.cap, self._rng)
                    self.attempt = 0
                log.info("connection lost: %s", error)
            self.last_error = error
            if self._stopping:
                break
            if not self._retryable(error):
                self._set(ConnectionStateChanged(ConnState.OFFLINE, error=error))
                return
            delay = next(delays)
            self.attempt += 1
            self._set(
                ConnectionStateChanged(
                    ConnState.RECONNECTING, retry_in=delay, error=error, attempt=self.attempt
                )
            )
            self._retry_at = self._clock() + delay
            try:
                await self._wait(delay)
            finally:
                self._retry_at = None
        self._set(ConnectionStateChanged(ConnState.OFFLINE, error=self.last_error))

    async def _wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds unless :meth:`retry_now` is called first."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, waker):
                if not fut.done():
                    fut.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await fut
        self._wake.clear()
