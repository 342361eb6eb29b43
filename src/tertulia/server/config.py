"""Server configuration: defaults, the TOML file, and validation.

Every setting has a default that makes ``tertulia server`` work with no file at all (SQLite in
the data dir, a self-signed certificate, open registration). A TOML file passed with
``--config`` overrides them section by section; unknown sections or keys are errors, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tertulia.proto.messages import MAX_LIST_PAGE, MAX_SERVER_FRAME
from tertulia.server.config_env import apply_env
from tertulia.server.config_types import (
    ConfigError,
    TypeMismatch,
    check_value,
    describe,
    toml_literal,
)

__all__ = [
    "BusConfig",
    "ConfigError",
    "HeartbeatConfig",
    "HttpConfig",
    "LimitsConfig",
    "LogConfig",
    "PasswordConfig",
    "ServerConfig",
    "SessionConfig",
    "StoreConfig",
    "TlsConfig",
    "load_config",
]

DEFAULT_PORT = 7443


@dataclass(slots=True)
class TlsConfig:
    #: operator-supplied certificate chain and key (PEM); both or neither
    cert: Path | None = None
    key: Path | None = None
    #: "1.3" (default) or "1.2" to admit TLS 1.2 AEAD suites
    min_version: Literal["1.2", "1.3"] = "1.3"
    #: plaintext TCP, for local debugging only; the server warns loudly
    insecure_no_tls: bool = False
    handshake_timeout: float = 10.0
    #: TLS key-exchange groups (OpenSSL names). Python's ssl module cannot set them, so
    #: ``tertulia server`` runs with an OPENSSL_CONF that does (see server/openssl_conf.py);
    #: empty to leave OpenSSL's defaults
    groups: str = "X25519:P-256:P-384"


@dataclass(slots=True)
class LimitsConfig:
    max_frame_pre_auth: int = 4096
    max_frame: int = 65536
    max_text: int = 4000
    max_name: int = 32
    max_topic: int = 512
    max_history_page: int = 200
    #: bytes queued for one connection before it is dropped as a slow consumer
    max_send_buffer: int = 4 * 1024 * 1024
    #: sends of one connection awaiting commit before the server stops reading from it
    max_inflight_sends: int = 256
    login_timeout: float = 20.0
    #: per user, across their connections: sustained ``send`` rate and the burst above it
    message_rate: float = 10.0
    message_burst: int = 50
    #: per connection: every frame counts (requests, notices, undecodable frames)
    request_rate: float = 50.0
    request_burst: int = 200
    #: ``rate_limited`` errors a connection may collect (one more allowed per second) before
    #: it is closed with ``bye rate_limited``: the slow-down comes first, the disconnect last
    rate_strikes: int = 50
    #: open connections per peer address (from TCP accept, TLS handshakes included), and in all
    max_connections_per_ip: int = 32
    max_connections: int = 4096
    #: failed logins allowed within the window (sliding): per account *from one address*
    #: (so an attacker locks only their own address out), per account from all addresses
    #: together (the ceiling against guessing spread over many addresses; addresses that
    #: logged in to the account are not held by it), and per address over all accounts
    login_failures_per_account: int = 5
    login_failures_per_account_total: int = 50
    login_failures_per_ip: int = 20
    login_failure_window: float = 300.0
    #: accounts one address may register per hour (a bucket of this size, refilled hourly)
    registrations_per_ip_per_hour: int = 20
    #: rooms one user may be a member of (DMs included)
    max_rooms_per_user: int = 200
    #: pending (not yet accepted) invitations one user may hold; they do not count as rooms
    max_pending_invitations: int = 50
    #: per inviter, across their connections: invitations made per second, and the burst
    invitation_rate: float = 0.2
    invitation_burst: int = 10
    #: entries per page of ``room_list``, ``member_list`` and ``ban_list`` (a client may ask
    #: for fewer); bounded so that a page of maximal entries fits in a 16 MiB server frame
    max_list_page: int = 100
    #: rooms one user may create (``create_room``, a new DM): a bucket of ``room_create_burst``
    #: refilled at ``room_create_per_hour``; ``max_rooms_per_user`` counts only current
    #: memberships, so without this a create/leave loop fills ``list_rooms`` for everyone
    room_create_per_hour: int = 30
    room_create_burst: int = 10
    #: per user, across their connections: ``set_presence`` changes and ``typing`` notices
    presence_rate: float = 1.0
    presence_burst: int = 5
    typing_rate: float = 2.0
    typing_burst: int = 10
    #: presence frames about one user that each receiver gets per second at most: faster
    #: changes are coalesced, the last state wins
    presence_fanout_rate: float = 2.0
    #: a connection's output budget: requests are handled (replies, history and sync pages
    #: produced) only while its queued bytes are below this (at most half ``max_send_buffer``);
    #: above it the server stops reading from it until the peer reads
    output_low_water: int = 256 * 1024
    #: seconds a connection may stay above ``output_low_water`` while a request of its waits;
    #: then it is dropped as a slow consumer (it reconnects and catches up with ``sync``)
    output_stall_timeout: float = 10.0
    #: networks exempt from the per-address limits above (connections per IP, registrations
    #: and failed logins per IP): local tooling. Per-user and per-connection limits still apply.
    exempt_networks: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])


@dataclass(slots=True)
class HeartbeatConfig:
    #: idle seconds before the server pings a connection
    interval: float = 15.0
    #: seconds to wait for the pong before dropping the connection
    timeout: float = 15.0
    #: seconds a user's session (presence, room routes) is held after their last connection
    #: drops, so a quick reconnect is invisible to others
    session_grace: float = 30.0


@dataclass(slots=True)
class SessionConfig:
    """Resume tokens handed out in ``login_ok``."""

    #: lifetime of a token, seconds (30 days)
    token_ttl: float = 30 * 86400.0
    #: tokens kept per user (one per device that logged in); older ones are revoked
    max_tokens_per_user: int = 10


@dataclass(slots=True)
class PasswordConfig:
    """argon2id cost; the defaults are RFC 9106's low-memory profile (argon2-cffi's)."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4
    min_length: int = 8
    #: threads hashing passwords; 0: one per CPU, at most 4
    hash_workers: int = 0
    #: hashes that may wait for a thread, all clients together; more answer ``busy``
    hash_queue: int = 16
    #: hashes running or waiting for one client address (exempt networks: no per-address
    #: bound); more answer ``busy``
    hash_per_address: int = 2


@dataclass(slots=True)
class StoreConfig:
    """Where durable state lives: SQLite (one node) or PostgreSQL (a cluster)."""

    #: "" for the SQLite file ``tertulia.db`` in the data directory; or a PostgreSQL URL,
    #: ``postgresql://user:password@host:5432/dbname`` (secret: prefer TERTULIA__STORE__URL__FILE)
    url: str = ""
    #: PostgreSQL schema holding the tables (created if missing); "" for the role's default
    schema: str = ""
    #: PostgreSQL connections for reads, per node (writes use one more)
    pool_size: int = 4
    #: SQLite: backups kept in ``DATA_DIR/backups`` (one is made before every schema migration)
    backups_keep: int = 5


@dataclass(slots=True)
class BusConfig:
    """Fan-out between nodes: none (one node) or Redis pub/sub (a cluster)."""

    #: "" for a single node; or ``redis://[:password@]host:6379/0`` (secret, like store.url)
    url: str = ""
    #: prefix of the Redis keys and channels: every node of one cluster uses the same
    prefix: str = "tertulia"
    #: seconds after which the users of a node that stopped refreshing (crashed) go offline
    presence_ttl: float = 30.0


@dataclass(slots=True)
class HttpConfig:
    """Plain-HTTP listener for ``/healthz``, ``/readyz`` and Prometheus ``/metrics``.

    It has no authentication: keep it on loopback (the default) or a private network.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    #: 0 picks a free port (printed at startup)
    port: int = 7480


@dataclass(slots=True)
class LogConfig:
    """Logs go to stderr (systemd's journal collects them)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "text" for people, "json" (one object per line) for log pipelines
    format: Literal["text", "json"] = "text"


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path("data"))
    registration: Literal["open", "closed"] = "open"
    #: SQLite synchronous mode: FULL survives power loss, NORMAL only process crashes
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    tls: TlsConfig = field(default_factory=TlsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    passwords: PasswordConfig = field(default_factory=PasswordConfig)
    sessions: SessionConfig = field(default_factory=SessionConfig)
    #: SO_REUSEPORT on the chat listener: several nodes on one machine share one port and the
    #: kernel spreads connections over them (multi-core without a load balancer; Linux)
    reuse_port: bool = False
    #: on the first start with no accounts, create ``admin`` with a random password shown once
    #: on the terminal or written to DATA_DIR/initial-admin-password (0600); only its hash
    #: is stored
    bootstrap_admin: bool = True
    store: StoreConfig = field(default_factory=StoreConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, not {self.port}")
        if self.registration not in ("open", "closed"):
            raise ConfigError("registration must be 'open' or 'closed'")
        if self.tls.min_version not in ("1.2", "1.3"):
            raise ConfigError("tls.min_version must be '1.2' or '1.3'")
        if (self.tls.cert is None) != (self.tls.key is None):
            raise ConfigError("tls.cert and tls.key must be given together")
        lim = self.limits
        if lim.max_frame_pre_auth < 256 or lim.max_frame < lim.max_frame_pre_auth:
            raise ConfigError("need 256 <= limits.max_frame_pre_auth <= limits.max_frame")
        if lim.max_frame > 16 * 1024 * 1024:
            raise ConfigError("limits.max_frame must be at most 16 MiB")
        # a maximal message (4 bytes of UTF-8 per character, JSON escaping aside) must fit
        if lim.max_text * 4 + 1024 > lim.max_frame:
            raise ConfigError("limits.max_frame is too small for limits.max_text")
        for name in (
            "max_text",
            "max_name",
            "max_topic",
            "max_history_page",
            "max_inflight_sends",
            "message_burst",
            "request_burst",
            "rate_strikes",
            "max_connections_per_ip",
            "max_connections",
            "login_failures_per_account",
            "login_failures_per_account_total",
            "login_failures_per_ip",
            "registrations_per_ip_per_hour",
            "max_rooms_per_user",
            "max_pending_invitations",
            "invitation_burst",
            "max_list_page",
            "room_create_per_hour",
            "room_create_burst",
            "presence_burst",
            "typing_burst",
            "output_low_water",
        ):
            if getattr(lim, name) < 1:
                raise ConfigError(f"limits.{name} must be positive")
        self._validate_reply_sizes()
        for name in (
            "message_rate",
            "request_rate",
            "invitation_rate",
            "login_failure_window",
            "login_timeout",
            "presence_rate",
            "typing_rate",
            "presence_fanout_rate",
            "output_stall_timeout",
        ):
            if not getattr(lim, name) > 0:
                raise ConfigError(f"limits.{name} must be positive")
        for net in lim.exempt_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"limits.exempt_networks: {net!r} is not a network") from None
        if self.tls.handshake_timeout <= 0:
            raise ConfigError("tls.handshake_timeout must be positive")
        if self.sessions.token_ttl <= 0 or self.sessions.max_tokens_per_user < 1:
            raise ConfigError("sessions.token_ttl and max_tokens_per_user must be positive")
        if self.heartbeat.interval <= 0 or self.heartbeat.timeout <= 0:
            raise ConfigError("heartbeat.interval and heartbeat.timeout must be positive")
        if self.heartbeat.session_grace < 0:
            raise ConfigError("heartbeat.session_grace must be >= 0")
        self._validate_operations()

    def _validate_reply_sizes(self) -> None:
        """Every reply page must fit in a server frame (docs/protocol.md: at most 16 MiB), so
        that no request can make the server produce a frame the client would refuse."""
        lim = self.limits
        if lim.max_list_page > MAX_LIST_PAGE:
            raise ConfigError(f"limits.max_list_page must be at most {MAX_LIST_PAGE}")
        # JSON escapes a control character as \u00XX: at most 6 bytes per character
        room_info = 512 + 6 * (2 * lim.max_name + 8) + 6 * lim.max_topic
        if lim.max_list_page * room_info > MAX_SERVER_FRAME:
            raise ConfigError("limits.max_list_page * limits.max_topic: a page exceeds 16 MiB")
        message = 512 + 6 * (2 * lim.max_name + 8) + 6 * 64 + 6 * lim.max_text
        if lim.max_history_page * message > MAX_SERVER_FRAME:
            raise ConfigError("limits.max_history_page * limits.max_text: a page exceeds 16 MiB")

    def _validate_operations(self) -> None:
        """Store, bus, HTTP listener and logging."""
        url = self.store.url
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("store.url must be empty (SQLite) or a postgresql:// URL")
        if self.store.schema and not self.store.schema.replace("_", "a").isalnum():
            raise ConfigError("store.schema must be letters, digits and _")
        if self.store.pool_size < 1 or self.store.backups_keep < 0:
            raise ConfigError("store.pool_size must be >= 1 and store.backups_keep >= 0")
        if self.bus.url and not self.bus.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("bus.url must be empty (one node) or a redis:// URL")
        if self.bus.url and not url:
            raise ConfigError("a cluster (bus.url) needs a shared store: set store.url too")
        if not self.bus.prefix or not self.bus.presence_ttl > 0:
            raise ConfigError("bus.prefix must be set and bus.presence_ttl positive")
        if not 0 <= self.http.port <= 65535:
            raise ConfigError(f"http.port must be 0..65535, not {self.http.port}")
        if self.log.level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("log.level must be DEBUG, INFO, WARNING or ERROR")
        if self.log.format not in ("text", "json"):
            raise ConfigError("log.format must be 'text' or 'json'")


_SECTIONS = {
    "tls": TlsConfig,
    "limits": LimitsConfig,
    "heartbeat": HeartbeatConfig,
    "passwords": PasswordConfig,
    "sessions": SessionConfig,
    "store": StoreConfig,
    "bus": BusConfig,
    "http": HttpConfig,
    "log": LogConfig,
}


def _coerce(cls: type[Any], key: str, value: Any, where: str) -> Any:
    """``value`` for setting ``key`` of ``cls``, type-checked (ConfigError says the fix)."""

    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields or dataclasses.is_dataclass(getattr(cls(), key, None)):
        raise ConfigError(f"unknown setting {where}{key!r}")
    try:
        return check_value(str(fields[key].type), value)
    except TypeMismatch as exc:
        default = getattr(cls(), key)
        example = '"..."' if default is None else toml_literal(default)
        raise ConfigError(
            f"{where}{key} must be {exc.expected}, not {describe(value)}"
            f" (for example: {key} = {example})"
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; every way it can be unreadable is a one-line ConfigError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}):"
            " save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _apply_file(cfg: ServerConfig, path: Path) -> None:
    data = _read_toml(path)
    where = f"config file {path}: "
    try:
        top = data.pop("server", {})
        if not isinstance(top, dict):
            raise ConfigError("[server] must be a table")
        for key, value in top.items():
            setattr(cfg, key, _coerce(ServerConfig, key, value, "[server] "))
        for section, values in data.items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"unknown config section [{section}]")
            target = getattr(cfg, section)
            for key, value in values.items():
                setattr(target, key, _coerce(_SECTIONS[section], key, value, f"[{section}] "))
    except ConfigError as exc:
        raise ConfigError(where + str(exc)) from None


def load_config(
    path: Path | None, *, env: Mapping[str, str] | None = None, **overrides: Any
) -> ServerConfig:
    """Build the configuration from defaults, the TOML file (if any), the environment
    (``TERTULIA__SECTION__KEY``, see :mod:`tertulia.server.config_env`), then ``overrides``.

    ``overrides`` are top-level settings from the command line; ``None`` values are ignored.
    ``env`` defaults to ``os.environ``.
    """
    cfg = ServerConfig()
    if path is not None:
        _apply_file(cfg, path)
    apply_env(cfg, os.environ if env is None else env, _SECTIONS)
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, _coerce(ServerConfig, key, value, ""))
    cfg.validate()
    return cfg
