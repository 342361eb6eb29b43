"""The server's abuse limits in one place: which limiter applies to whom, and the exemptions.

Owned by :class:`~tertulia.server.app.Server` and used from the event loop thread only. The
limiters themselves are the pure classes of ``server/limits.py``; this module decides their keys
(a user, a peer address, an account name) and turns a refusal into the ``CommandError`` a client
sees. docs/security.md has the table of every limit, its setting and its error code.

Per-address limits skip the ``limits.exempt_networks`` (loopback by default: local bots and
tools); per-user and per-connection limits apply to everyone.
"""

from __future__ import annotations

import collections
import ipaddress
import time

from tertulia.proto.errors import ErrorCode
from tertulia.server.config import LimitsConfig
from tertulia.server.errors import CommandError
from tertulia.server.limits import (
    Clock,
    ConnectionCounter,
    FailureThrottle,
    KeyedBuckets,
    RecentKeys,
    TokenBucket,
    retry_after,
)

__all__ = ["Guard"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: how long an (account, address) pair that logged in successfully stays past the account's
#: overall failure ceiling (in memory only: a restart forgets)
KNOWN_ADDRESS_TTL = 30 * 86400.0


def login_source(ip: str) -> str:
    """The address part of a per-(account, address) login key: the IP itself, or its /64 for
    IPv6 (one subscriber commonly holds a whole /64, so its addresses are one source)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


class Guard:
    def __init__(self, limits: LimitsConfig, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.connections: ConnectionCounter[str] = ConnectionCounter(
            limits.max_connections_per_ip, limits.max_connections
        )
        #: connections accepted only to be told ``too_many_connections`` (bounded too)
        self.rejecting = 0
        #: how often each limit said no (operator status, tests)
        self.refusals: collections.Counter[str] = collections.Counter()
        self.update(limits)

    def update(self, limits: LimitsConfig) -> None:
        """Apply (re-read) limits: counts of open connections and recent login failures are
        kept, rate buckets start afresh with the new rates."""
        clock = self._clock
        self.limits = limits
        self._exempt: list[_Network] = [
            ipaddress.ip_network(n, strict=False) for n in limits.exempt_networks
        ]
        self.connections.max_per_key = limits.max_connections_per_ip
        self.connections.max_total = limits.max_connections
        self.messages: KeyedBuckets[str] = KeyedBuckets(
            limits.message_rate, limits.message_burst, clock=clock
        )
        self.invitations: KeyedBuckets[str] = KeyedBuckets(
            limits.invitation_rate, limits.invitation_burst, clock=clock
        )
        self.registrations: KeyedBuckets[str] = KeyedBuckets(
            limits.registrations_per_ip_per_hour / 3600.0,
            limits.registrations_per_ip_per_hour,
            clock=clock,
        )
        self.room_creations: KeyedBuckets[str] = KeyedBuckets(
            limits.room_create_per_hour / 3600.0, limits.room_create_burst, clock=clock
        )
        self.presence: KeyedBuckets[str] = KeyedBuckets(
            limits.presence_rate, limits.presence_burst, clock=clock
        )
        self.typing: KeyedBuckets[str] = KeyedBuckets(
            limits.typing_rate, limits.typing_burst, clock=clock
        )
        old_pairs = getattr(self, "login_pairs", None)
        old_accounts = getattr(self, "login_accounts", None)
        old_ips = getattr(self, "login_ips", None)
        #: failures per (account, source address): what locks one address out of one account
        self.login_pairs: FailureThrottle[tuple[str, str]] = FailureThrottle(
            limits.login_failures_per_account, limits.login_failure_window, clock=clock
        )
        #: failures per account from all addresses: the ceiling against distributed guessing
        self.login_accounts: FailureThrottle[str] = FailureThrottle(
            limits.login_failures_per_account_total, limits.login_failure_window, clock=clock
        )
        self.login_ips: FailureThrottle[str] = FailureThrottle(
            limits.login_failures_per_ip, limits.login_failure_window, clock=clock
        )
        if old_pairs is not None and old_accounts is not None and old_ips is not None:
            self.login_pairs.adopt(old_pairs)
            self.login_accounts.adopt(old_accounts)
            self.login_ips.adopt(old_ips)
        if getattr(self, "login_known", None) is None:
            #: (account, source) pairs that logged in: past the overall ceiling (kept on reload)
            self.login_known: RecentKeys[tuple[str, str]] = RecentKeys(
                KNOWN_ADDRESS_TTL, clock=clock
            )

    def exempt(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False  # a Unix socket or something stranger: no exemption
        return any(addr in net for net in self._exempt)

    def address_key(self, ip: str) -> str | None:
        """The key of a per-address limit for ``ip``: None for the exempt networks."""
        return None if self.exempt(ip) else ip

    # -- connections -------------------------------------------------------------------------
    def admit(self, ip: str) -> bool:
        """Count a new TCP connection from ``ip``; False if it is over a connection limit."""
        ok = self.connections.acquire(None if self.exempt(ip) else ip)
        if not ok:
            self.refusals["too_many_connections"] += 1
        return ok

    def release(self, ip: str) -> None:
        # by what was counted, not by today's exemptions (a reload may have changed them)
        self.connections.release(ip if self.connections.count(ip) > 0 else None)

    def request_bucket(self) -> TokenBucket:
        """A fresh per-connection bucket for every frame the connection sends."""
        return TokenBucket(self.limits.request_rate, self.limits.request_burst, self._clock)

    def strike_bucket(self) -> TokenBucket:
        """Per connection: ``rate_limited`` errors it may collect before it is closed."""
        return TokenBucket(1.0, self.limits.rate_strikes, self._clock)

    # -- per user ----------------------------------------------------------------------------
    def check_message(self, user: str) -> None:
        """Raise ``rate_limited`` (with ``retry_after``) if ``user`` sends too fast."""
        wait = self.messages.take(user)
        if wait > 0:
            self.refusals["message_rate"] += 1
            raise CommandError(
                ErrorCode.RATE_LIMITED,
                "slow down: too many messages",
                retry_after=retry_after(wait),
                limit="message_rate",
            )

    def check_invitation(self, inviter: str) -> None:
        """Raise ``rate_limited`` if ``inviter`` invites too fast (Synapse's ``rc_invites``
        ``per_issuer`` does the same)."""
        wait = self.invitations.take(inviter)
        if wait > 0:
            self.refusals["invitation_rate"] += 1
            raise CommandError(
                ErrorCode.RATE_LIMITED,
                "slow down: too many invitations",
                retry_after=retry_after(wait),
                limit="invitation_rate",
            )

    def check_room_creation(self, user: str) -> None:
        """Before creating a room (or a new DM) for ``user``: ``rate_limited`` when too many."""
        wait = self.room_creations.take(user)
        if wait > 0:
            self.refusals["room_creation"] += 1
            raise CommandError(
                ErrorCode.RATE_LIMITED,
                "too many rooms created: try again later",
                retry_after=retry_after(wait),
                limit="room_creation",
            )

    def check_presence(self, user: str) -> None:
        """``set_presence`` of ``user`` from any of their connections."""
        wait = self.presence.take(user)
        if wait > 0:
            self.refusals["presence_rate"] += 1
            raise CommandError(
                ErrorCode.RATE_LIMITED,
                "slow down: presence changes too often",
                retry_after=retry_after(wait),
                limit="presence_rate",
            )

    def allow_typing(self, user: str) -> bool:
        """A ``typing`` notice of ``user`` may be fanned out (a notice: refused ones are
        dropped without an answer, as notices get none)."""
        if self.typing.take(user) > 0:
            self.refusals["typing_rate"] += 1
            return False
        return True

    # -- accounts ----------------------------------------------------------------------------
    def check_registration(self, ip: str) -> None:
        if self.exempt(ip):
            return
        wait = self.registrations.take(ip)
        if wait > 0:
            self.refusals["registrations"] += 1
            raise CommandError(
                ErrorCode.RATE_LIMITED,
                "too many accounts registered from this address",
                retry_after=retry_after(wait),
                limit="registrations",
            )

    def check_login(self, ip: str, account: str | None) -> None:
        """Before verifying a password: refuse while this address is throttled for the account,
        the account is over its overall ceiling, or the address is over its own limit.

        The account key is the name as normalized, whether or not such a user exists, so the
        answer reveals nothing about which accounts exist. Failures count per (account,
        address), so an attacker's wrong passwords lock only the attacker's address out of
        the account, not its owner elsewhere; the much higher overall ceiling stops guessing
        spread over many addresses, and an address that has logged in to the account
        (:meth:`login_succeeded`) is not held by it.
        """
        wait = 0.0
        known = False
        if account is not None:
            pair = (account, login_source(ip))
            known = self.login_known.seen(pair)
            wait = self.login_pairs.check(pair)
            if not known:
                wait = max(wait, self.login_accounts.check(account))
        if not known and not self.exempt(ip):
            wait = max(wait, self.login_ips.check(ip))
        if wait > 0:
            self.refusals["login_throttled"] += 1
            raise CommandError(
                ErrorCode.LOGIN_THROTTLED,
                "too many failed logins: try again later",
                retry_after=retry_after(wait),
            )

    def login_failed(self, ip: str, account: str | None) -> None:
        """Count a failure; ``account=None`` (a bad resume token) counts for the address only,
        so nobody can lock everyone's resumes out by sending garbage tokens."""
        if account is not None:
            self.login_pairs.failure((account, login_source(ip)))
            self.login_accounts.failure(account)
        if not self.exempt(ip):
            self.login_ips.failure(ip)

    def login_succeeded(self, ip: str, account: str) -> None:
        """A right password (or a valid resume token) for ``account`` from ``ip``: that
        address's failures for the account were the owner's typos, so they are forgotten, and
        the address is remembered as the owner's. The account's overall count and the
        address's own count are kept: a success must not buy guesses at other accounts."""
        pair = (account, login_source(ip))
        self.login_pairs.forget(pair)
        self.login_known.add(pair)

    def status(self) -> dict[str, object]:
        return {
            "connections": self.connections.total,
            "rejecting": self.rejecting,
            "refusals": dict(self.refusals),
            "throttled_accounts": len(self.login_accounts),
            "throttled_account_addresses": len(self.login_pairs),
            "known_account_addresses": len(self.login_known),
            "throttled_ips": len(self.login_ips),
        }
