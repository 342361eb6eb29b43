"""A third-party Tertulia v1 client written only from ``docs/protocol.md``.

Standard library only and deliberately independent of the ``tertulia`` package: it exists to show
that the document is enough to write an interoperating client. Section references (``§2``) point
at the document.

The client is synchronous and single-threaded. Every read goes through :meth:`Client._read_frame`,
which answers the server's heartbeat ``ping`` with ``pong`` (§5 Heartbeat) and queues events that
arrive while the client waits for a response, so nothing is lost and the caller sees the frames of
the connection in order.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import struct
import time
import uuid
from collections import deque
from typing import Any

PROTOCOL_VERSION = 1
DEFAULT_PORT = 7443  # §1 Transport
#: §3: frames *from* the server are at most 16 MiB; ``max_frame`` must not be applied to them.
MAX_INCOMING_FRAME = 16 * 1024 * 1024
#: §3 defaults, used only until ``hello_ok`` announces the real values.
DEFAULT_PRE_AUTH_LIMIT = 4096
#: §4: an integer id must be exact in every JSON implementation.
MAX_INT_ID = 2**53 - 1
_HEADER = struct.Struct(">I")  # §2: 4 bytes, unsigned, big-endian


class ClientError(Exception):
    """Something went wrong on the client side (not an ``error`` frame)."""


class FingerprintMismatch(ClientError):
    """The server's certificate does not have the pinned fingerprint (§1)."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"certificate fingerprint mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class ConnectionClosed(ClientError):
    """The server closed the connection (or it was closed here)."""


class LocalLimitError(ClientError):
    """The client refused to send something the announced limits forbid (§3)."""


class ServerError(Exception):
    """An ``error`` frame (§11). ``code`` is the stable code; ``message`` is for logs only."""

    def __init__(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self.id: Any = frame.get("id")  # absent == null (§11)
        self.code: str = frame["code"]
        self.message: str = frame.get("message", "")
        self.params: dict[str, Any] = frame.get("params") or {}  # default {} (§11)
        super().__init__(f"{self.code}: {self.message} {self.params}")

    @property
    def fatal(self) -> bool:
        """§11: after a fatal code the server closes the connection."""
        return self.code in FATAL_CODES


#: §11: the codes after which the server closes the connection.
FATAL_CODES = frozenset(
    {"frame_too_large", "bad_frame", "unsupported_version", "slow_consumer", "timeout"}
    | {"shutting_down"}
)


def fingerprint_of(der: bytes) -> str:
    """§1 Fingerprint format: ``SHA256:`` + 32 colon-separated uppercase hex pairs of the DER."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def encode_frame(msg: dict[str, Any]) -> bytes:
    """§2: 4-byte big-endian body length, then the UTF-8 JSON body."""
    body = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _HEADER.pack(len(body)) + body


def new_msg_id() -> str:
    """§10: a random identifier is the simplest never-reused ``msg_id`` (1 to 64 characters)."""
    return uuid.uuid4().hex


class Client:
    """One connection to a Tertulia server, trusting it by pinned fingerprint (§1)."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        fingerprint: str,
        timeout: float = 10.0,
        client_name: str = "thirdparty-client/0.1",
    ) -> None:
        self.timeout = timeout
        self.client_name = client_name
        self.limits: dict[str, int] = {}
        self.heartbeat_interval: float | None = None
        self.server_software = ""
        self.user: str | None = None
        self.admin = False
        self.authenticated = False
        self.closed = False
        #: events (frames without a matching response) in arrival order
        self.events: deque[dict[str, Any]] = deque()
        #: §10 "a cursor per room": the highest seq seen in each room
        self.cursors: dict[str, int] = {}
        #: §10 outbox: msg_id -> the send request, until its ``sent`` arrives
        self.outbox: dict[str, dict[str, Any]] = {}
        #: nonces of the server pings this client answered (§5 Heartbeat)
        self.pings_answered: list[int] = []
        #: messages dropped because their seq was not above the cursor (§10)
        self.dropped_duplicates: list[dict[str, Any]] = []
        self._next_id = 0
        self._buf = bytearray()

        # §1 Pinned fingerprint: chain and host name are not checked, only the fingerprint.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self._sock = ctx.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        der = self._sock.getpeercert(binary_form=True)
        actual = fingerprint_of(der or b"")
        if actual != fingerprint:  # "matches it exactly"
            self.close()
            raise FingerprintMismatch(fingerprint, actual)
        self.tls_version = self._sock.version()

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._sock.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ framing (§2)

    @property
    def send_limit(self) -> int:
        """§3: the frame limit of the server for what this client sends now."""
        if self.authenticated:
            return self.limits["max_frame"]
        return self.limits.get("max_frame_pre_auth", DEFAULT_PRE_AUTH_LIMIT)

    def send_frame(self, msg: dict[str, Any]) -> None:
        data = encode_frame(msg)
        if len(data) - 4 > self.send_limit:
            raise LocalLimitError(f"frame body of {len(data) - 4} bytes > {self.send_limit}")
        self.send_raw(data)

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (for tests of the server's handling of bad frames)."""
        if self.closed:
            raise ConnectionClosed("connection already closed")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise ConnectionClosed(f"send failed: {exc}") from exc

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out waiting for the server")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except (TimeoutError, socket.timeout):  # noqa: UP041 (both spellings on 3.11)
                raise TimeoutError("timed out waiting for the server") from None
            except (ssl.SSLError, OSError) as exc:
                self.close()
                raise ConnectionClosed(f"connection lost: {exc}") from exc
            if not chunk:
                self.close()
                raise ConnectionClosed("server closed the connection")
            self._buf += chunk

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        """Read one frame; answer server pings on the way (they are also returned)."""
        if self.closed:
            raise ConnectionClosed("connection already closed")
        self._fill(4, deadline)
        (length,) = _HEADER.unpack_from(self._buf)
        if length == 0 or length > MAX_INCOMING_FRAME:
            self.close()
            raise ClientError(f"server sent a frame of length {length}")
        self._fill(4 + length, deadline)
        body = bytes(self._buf[4 : 4 + length])
        del self._buf[: 4 + length]
        try:
            msg = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self.close()
            raise ClientError(f"server sent a frame that is not UTF-8 JSON: {body[:80]!r}") from exc
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self.close()
            raise ClientError(f"server sent a frame without a string type: {msg!r}")
        if msg["type"] == "ping" and "id" not in msg:
            # §5/§8: the server's heartbeat; MUST be answered with the same nonce.
            self.send_frame({"type": "pong", "nonce": msg["nonce"]})
            self.pings_answered.append(msg["nonce"])
        elif msg["type"] == "message":
            self._track_message(msg)
        return msg

    def _track_message(self, msg: dict[str, Any]) -> None:
        # §10 "While connected": a message at or below the cursor was already seen.
        room, seq = msg["room"], msg["seq"]
        if seq <= self.cursors.get(room, 0):
            msg["_duplicate_delivery"] = True
            self.dropped_duplicates.append(msg)
        else:
            self.cursors[room] = seq

    # ------------------------------------------------------------------ requests and events

    def next_request_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, msg: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send a request and return its success response; raise :class:`ServerError` on error.

        Frames that are not the response (events, connection-level errors) are queued in
        :attr:`events` in arrival order.
        """
        msg = dict(msg)
        msg.setdefault("id", self.next_request_id())
        self.send_frame(msg)
        return self.wait_response(msg["id"], timeout=timeout)

    def wait_response(self, req_id: Any, *, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self._read_frame(deadline)
            if "id" in frame and frame["id"] == req_id and frame["type"] != "ping":
                if frame["type"] == "error":
                    raise ServerError(frame)
                return frame
            self.events.append(frame)

    def next_frame(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The next frame that is not a response: queued first, then from the socket."""
        if self.events:
            return self.events.popleft()
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return self._read_frame(deadline)

    def wait_for(
        self, type_: str, *, timeout: float | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The next event of ``type_`` with ``fields``; events skipped on the way are kept."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        for i, ev in enumerate(self.events):
            if _matches(ev, type_, fields):
                del self.events[i]
                return ev
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                ev = self._read_frame(deadline)
                if _matches(ev, type_, fields):
                    return ev
                skipped.append(ev)
        finally:
            self.events.extend(skipped)

    def expect_error(self, *, timeout: float | None = None) -> ServerError:
        """The next ``error`` frame not answering a pending request (e.g. after bad bytes)."""
        return ServerError(self.wait_for("error", timeout=timeout))

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Read (and answer pings) for ``seconds``; return everything that arrived."""
        deadline = time.monotonic() + seconds
        got = list(self.events)
        self.events.clear()
        while True:
            try:
                got.append(self._read_frame(deadline))
            except TimeoutError:
                return got

    def read_until_closed(self, *, timeout: float | None = None) -> list[dict[str, Any]]:
        """Read until the server closes the connection; return the frames seen until then."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = list(self.events)
        self.events.clear()
        while True:
            try:
                got.append(self._read_frame(deadline))
            except ConnectionClosed:
                return got

    # ------------------------------------------------------------------ session (§6)

    def hello(self, versions: list[int] | None = None) -> dict[str, Any]:
        ok = self.request(
            {
                "type": "hello",
                "versions": versions or [PROTOCOL_VERSION],
                "client": self.client_name,
            }
        )
        self.limits = dict(ok["limits"])
        self.heartbeat_interval = float(ok["heartbeat_interval"])
        self.server_software = ok["server"]
        return ok

    def register(self, user: str, password: str) -> dict[str, Any]:
        return self.request({"type": "register", "user": user, "password": password})

    def login(self, user: str, password: str) -> dict[str, Any]:
        ok = self.request({"type": "login", "user": user, "password": password})
        self.user = ok["user"]  # normalized; "use this form from now on"
        self.admin = bool(ok.get("admin", False))
        self.authenticated = True  # §3: the limit is now max_frame
        return ok

    def logout(self) -> dict[str, Any]:
        ok = self.request({"type": "logout"})
        self.authenticated = False
        return ok

    def ping(self, req_id: Any = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "ping"}
        if req_id is not None:
            msg["id"] = req_id
        return self.request(msg)

    # ------------------------------------------------------------------ rooms (§6)

    def create_room(
        self, room: str, *, visibility: str = "public", topic: str = ""
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "create_room", "room": room}
        if visibility != "public":
            msg["visibility"] = visibility
        if topic:
            msg["topic"] = topic
        return _room_info(self.request(msg)["room"])

    def join(self, room: str) -> dict[str, Any]:
        return _room_info(self.request({"type": "join", "room": room})["room"])

    def leave(self, room: str) -> dict[str, Any]:
        return self.request({"type": "leave", "room": room})

    def list_rooms(self) -> list[dict[str, Any]]:
        return [_room_info(r) for r in self.request({"type": "list_rooms"})["rooms"]]

    def members(self, room: str) -> list[dict[str, Any]]:
        return list(self.request({"type": "members", "room": room})["members"])

    # ------------------------------------------------------------------ messages (§6, §10)

    def send(
        self,
        room: str,
        text: str,
        *,
        msg_id: str | None = None,
        kind: str = "text",
        check_length: bool = True,
    ) -> dict[str, Any]:
        """Send a chat message; return ``sent`` with ``duplicate`` defaulted (§4 Field presence)."""
        if check_length and "max_text" in self.limits and len(text) > self.limits["max_text"]:
            raise LocalLimitError(f"text of {len(text)} characters > {self.limits['max_text']}")
        msg: dict[str, Any] = {
            "type": "send",
            "room": room,
            "msg_id": new_msg_id() if msg_id is None else msg_id,
            "text": text,
        }
        if kind != "text":
            msg["kind"] = kind
        self.outbox[msg["msg_id"]] = msg
        sent = self.request(msg)
        self.outbox.pop(msg["msg_id"], None)
        sent.setdefault("duplicate", False)
        return sent

    def resend_outbox(self) -> list[dict[str, Any]]:
        """§10 step 3: resend every unacknowledged message with the same msg_id, room, text."""
        return [
            self.send(m["room"], m["text"], msg_id=m["msg_id"], kind=m.get("kind", "text"))
            for m in list(self.outbox.values())
        ]

    def history(
        self,
        room: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "history", "room": room}
        if before is not None:
            msg["before"] = before
        if after is not None:
            msg["after"] = after
        if limit is not None:
            msg["limit"] = limit
        page = self.request(msg)
        for m in page["messages"]:
            m.setdefault("kind", "text")
        return page

    def sync(
        self, cursors: dict[str, int] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """§6 sync: returns (replayed or live messages that arrived before ``synced``, cursors).

        Messages that were already seen (``seq`` not above the cursor) are left out (§10).
        """
        cursors = dict(self.cursors if cursors is None else cursors)
        for room, seq in cursors.items():
            self.cursors[room] = max(self.cursors.get(room, 0), seq)
        already = len(self.events)
        synced = self.request({"type": "sync", "cursors": cursors})
        arrived = list(self.events)[already:]
        messages = [
            e for e in arrived if e["type"] == "message" and not e.get("_duplicate_delivery")
        ]
        for m in messages:
            self.events.remove(m)
        return messages, dict(synced["cursors"])

    def messages(self, room: str, count: int, *, timeout: float | None = None) -> list[dict]:
        """The next ``count`` new (not previously seen) ``message`` events of ``room``."""
        got: list[dict[str, Any]] = []
        while len(got) < count:
            ev = self.wait_for("message", room=room, timeout=timeout)
            if not ev.get("_duplicate_delivery"):
                ev.setdefault("kind", "text")
                got.append(ev)
        return got


def _matches(ev: dict[str, Any], type_: str, fields: dict[str, Any]) -> bool:
    return ev.get("type") == type_ and all(ev.get(k) == v for k, v in fields.items())


def _room_info(info: dict[str, Any]) -> dict[str, Any]:
    """§9 RoomInfo with the documented defaults filled in."""
    defaults = {
        "topic": "",
        "last_seq": 0,
        "read_seq": 0,
        "unread": 0,
        "member_count": 0,
        "joined": True,
        "peer": None,
    }
    return {**defaults, **info}


def connect(
    host: str, port: int, fingerprint: str, *, user: str, password: str, register: bool = False
) -> Client:
    """Connect, ``hello``, optionally ``register``, then ``login`` (§5 Sequence)."""
    c = Client(host, port, fingerprint=fingerprint)
    try:
        c.hello()
        if register:
            c.register(user, password)
        c.login(user, password)
    except BaseException:
        c.close()
        raise
    return c
