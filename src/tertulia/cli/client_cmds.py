"""``tertulia register | send | listen``: the chat client on the command line.

All three share the connection options (``--server``, ``--user``, and one of ``--fingerprint``,
``--tofu``, ``--cafile`` to say how to trust the server). The password comes from
``$TERTULIA_PASSWORD`` or a prompt, never from the command line (other users can read argv).

``send`` and ``listen`` use the client library unchanged: ``send`` puts its messages in the
outbox and exits only once every one is acknowledged, whatever reconnects that took; ``listen``
follows the room through reconnects and server restarts, printing each message exactly once in
seq order. Exit codes: 0 success, 1 failure (the message says what), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tertulia.cli.common import CliError, read_password, run_async
from tertulia.client import (
    DEFAULT_PORT,
    Client,
    ClientError,
    ClientOffline,
    ConnectionStateChanged,
    ConnState,
    Event,
    Message,
    MessageKind,
    ServerError,
    TrustError,
    TrustPolicy,
    normalize_name,
)

__all__ = ["format_message", "parse_server", "register"]

Handler = Callable[[argparse.Namespace], int]

#: Friendlier wording for the server's error codes (the code itself is printed too).
_EXPLAIN = {
    "auth_failed": "login failed: wrong user name or password (or the account is disabled)",
    "name_taken": "that user name is already taken",
    "weak_password": "the password is too short (at least {min} characters)",
    "invalid_name": "invalid {field} name: letters, digits, '_', '-', '.' only",
    "registration_closed": "this server does not allow registration; ask its operator",
    "room_not_found": "no such room (or it is private and you were not invited)",
    "not_member": "you are not a member of that room",
    "text_too_long": "the message is too long (at most {max} characters)",
    "rate_limited": "sending too fast; slow down",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    conn = common.add_argument_group("connection")
    conn.add_argument(
        "--server",
        type=parse_server,
        default=("localhost", DEFAULT_PORT),
        metavar="HOST:PORT",
        help=f"server address (default localhost:{DEFAULT_PORT}; IPv6 as [::1]:{DEFAULT_PORT})",
    )
    conn.add_argument("--user", required=True, metavar="NAME", help="your user name")
    conn.add_argument(
        "--fingerprint",
        metavar="SHA256:...",
        help="trust only the server certificate with this fingerprint "
        "(the operator gets it with `tertulia admin fingerprint`)",
    )
    conn.add_argument(
        "--cafile", type=Path, metavar="PATH", help="verify the server against this CA (PEM)"
    )
    conn.add_argument(
        "--tofu",
        action="store_true",
        help="trust the certificate seen on first contact and remember it (like SSH)",
    )
    conn.add_argument(
        "--insecure-no-tls",
        action="store_true",
        help="plaintext TCP to a server run with --insecure-no-tls (local debugging only)",
    )
    conn.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give up if the first connection is not up after S seconds (default 30)",
    )

    p = sub.add_parser(
        "register",
        parents=[common],
        help="create an account on a server",
        description="Create an account. The password comes from TERTULIA_PASSWORD or a prompt.",
    )
    p.set_defaults(func=_register)

    p = sub.add_parser(
        "send",
        parents=[common],
        help="send messages to a room",
        description="Send TEXT (words joined by spaces), or each line of stdin as one message, "
        "in order. Joins the room first, creating it (public) if it does not exist. Exits 0 "
        "once every message is acknowledged by the server, across reconnects; 1 if any was "
        "refused. Blank stdin lines are skipped.",
    )
    p.add_argument("--room", required=True, help="the room to send to")
    p.add_argument("--me", action="store_true", help="send as an action (/me)")
    p.add_argument("text", nargs="*", metavar="TEXT", help="the message (default: stdin lines)")
    p.set_defaults(func=_send)

    p = sub.add_parser(
        "listen",
        parents=[common],
        help="print a room's messages as they arrive",
        description="Print each message of ROOM once, in order, following reconnects and "
        "server restarts. Plain: '[HH:MM] sender: text'; --json: one object per line.",
    )
    p.add_argument("--room", required=True, help="the room to follow")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    p.add_argument(
        "--since",
        type=int,
        metavar="SEQ",
        help="start after message SEQ (0 = the whole history); default: only new messages",
    )
    p.add_argument("--count", type=int, metavar="N", help="exit 0 after N messages")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="exit after S seconds (status 1 if --count was given and not reached)",
    )
    p.set_defaults(func=_listen)


# --------------------------------------------------------------------------- helpers


def parse_server(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise argparse.ArgumentTypeError(f"missing ']' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise argparse.ArgumentTypeError(f"expected ':PORT' after ']' in {text!r}")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise argparse.ArgumentTypeError(f"no host in {text!r}")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {port_text!r}")
    return host, int(port_text)


def format_message(msg: Message, *, as_json: bool = False) -> str:
    """One output line for ``msg``: JSON or ``[HH:MM] sender: text`` (local time)."""
    if as_json:
        return json.dumps(
            {
                "room": msg.room,
                "seq": msg.seq,
                "msg_id": msg.msg_id,
                "sender": msg.sender,
                "ts": msg.ts,
                "text": msg.text,
                "kind": msg.kind,
            },
            ensure_ascii=False,
        )
    when = datetime.fromtimestamp(msg.ts / 1000).strftime("%H:%M")
    if msg.kind == "me":
        return f"[{when}] * {msg.sender} {msg.text}"
    return f"[{when}] {msg.sender}: {msg.text}"


def _explain(exc: BaseException) -> str:
    if isinstance(exc, ServerError):
        template = _EXPLAIN.get(exc.code)
        if template is not None:
            try:
                return f"{template.format(**exc.params)} [{exc.code}]"
            except (KeyError, IndexError, ValueError):
                return f"{template.split('{')[0].rstrip(' (')} [{exc.code}]"
        return f"{exc.message} [{exc.code}]"
    if isinstance(exc, ClientOffline) and exc.error is not None:
        return _explain(exc.error)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _fail(message: str) -> int:
    print(f"tertulia: {message}", file=sys.stderr, flush=True)
    return 1


def _trust(args: argparse.Namespace) -> TrustPolicy:
    if args.insecure_no_tls:
        print(
            "WARNING: --insecure-no-tls: your password and messages cross the network in plain "
            "text. Use this only against a local debugging server.",
            file=sys.stderr,
            flush=True,
        )
    return TrustPolicy(
        fingerprint=args.fingerprint,
        cafile=args.cafile,
        tofu=args.tofu,
        insecure_no_tls=args.insecure_no_tls,
    )


def _make_client(args: argparse.Namespace, **kw: Any) -> Client:
    host, port = args.server
    return Client(host, port, args.user, args._password, trust=args._trust, **kw)


def _prepare(args: argparse.Namespace, *, confirm: bool = False) -> None:
    """Trust policy and password, before any connection (both may fail with a clear message)."""
    args._trust = _trust(args)
    args._password = read_password(confirm=confirm)


def _run(args: argparse.Namespace, body: Callable[[argparse.Namespace], Any], **kw: Any) -> int:
    try:
        _prepare(args, **kw)
        return int(run_async(body(args)))
    except (TrustError, CliError) as exc:
        return _fail(str(exc))
    except (ClientError, OSError, TimeoutError) as exc:
        return _fail(_explain(exc))


async def _start(client: Client, args: argparse.Namespace) -> None:
    """Connect (retrying network errors up to ``--connect-timeout``) or raise a clear error."""
    host, port = args.server
    try:
        async with asyncio.timeout(args.connect_timeout):
            await client.start()
    except TimeoutError:
        err = client.last_error
        await client.close()
        reason = _explain(err) if err is not None else "timed out"
        raise CliError(f"cannot connect to {host}:{port}: {reason}") from None
    except BaseException:
        await client.close()
        raise


def _report_state(ev: ConnectionStateChanged) -> None:
    """Connection trouble goes to stderr, so it never mixes with the data on stdout."""
    if ev.state is ConnState.RECONNECTING:
        reason = _explain(ev.error) if ev.error is not None else "connection lost"
        print(
            f"tertulia: {reason}; reconnecting in {ev.retry_in or 0:.1f} s",
            file=sys.stderr,
            flush=True,
        )


# --------------------------------------------------------------------------- commands


def _register(args: argparse.Namespace) -> int:
    async def body(args: argparse.Namespace) -> int:
        client = _make_client(args)
        await client.register()
        print(f"registered {client.user} on {args.server[0]}:{args.server[1]}")
        return 0

    return _run(args, body, confirm=True)


def _send(args: argparse.Namespace) -> int:
    return _run(args, _send_body)


async def _send_body(args: argparse.Namespace) -> int:
    client = _make_client(args, rooms=[args.room])
    kind: MessageKind = "me" if args.me else "text"

    @client.on_event
    def _state(ev: Event) -> None:
        if isinstance(ev, ConnectionStateChanged):
            _report_state(ev)

    await _start(client, args)
    try:
        if args.text:
            await client.send(args.room, " ".join(args.text), kind)
        else:
            await _send_lines(client, args.room, kind, sys.stdin)
        failed = await client.flush()
    finally:
        await client.close()
    for entry in failed:
        assert entry.error is not None
        _fail(f"message not sent ({entry.text[:40]!r}): {_explain(entry.error)}")
    return 1 if failed else 0


async def _send_lines(client: Client, room: str, kind: MessageKind, stream: TextIO) -> None:
    """Queue each line as it is read, so sending overlaps reading (a pipe may be slow)."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, stream.readline):
        text = line.rstrip("\r\n")
        if text.strip():
            await client.send(room, text, kind)


def _listen(args: argparse.Namespace) -> int:
    return _run(args, _listen_body)


async def _listen_body(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cursors = {args.room: max(0, args.since)} if args.since is not None else None
    client = _make_client(args, rooms=[args.room], cursors=cursors)
    stream = client.events()
    count = 0
    try:
        deadline = None if args.timeout is None else started + args.timeout
        async with asyncio.timeout_at(_loop_time(deadline)):
            await _start(client, args)
            room = normalize_name(args.room)
            if args.count is not None and args.count <= 0:
                return 0
            async for ev in stream:
                if isinstance(ev, ConnectionStateChanged):
                    _report_state(ev)
                    if ev.state is ConnState.OFFLINE and ev.error is not None:
                        return _fail(_explain(ev.error))
                    continue
                if not isinstance(ev, Message) or ev.room != room:
                    continue
                try:
                    print(format_message(ev, as_json=args.json), flush=True)
                except BrokenPipeError:  # e.g. `tertulia listen ... | head -3`
                    _silence_stdout()
                    return 0
                count += 1
                if args.count is not None and count >= args.count:
                    return 0
    except TimeoutError:
        if args.count is not None and count < args.count:
            return _fail(f"timed out after {count} of {args.count} messages")
        return 0
    finally:
        stream.close()
        with contextlib.suppress(Exception):
            await client.close()
    return 0


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the final flush at exit cannot fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _loop_time(deadline: float | None) -> float | None:
    """A ``time.monotonic()`` deadline on the event loop's clock (they may differ, uvloop)."""
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())
