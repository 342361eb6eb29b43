"""``tertulia register | send | listen``: the chat client on the command line.

All three share the connection options (``--server``, ``--user``, and one of ``--fingerprint``,
``--tofu``, ``--cafile`` to say how to trust the server). The password comes from
``$TERTULIA_PASSWORD`` or a prompt, never from the command line (other users can read argv).

``send`` and ``listen`` use the client library: ``send`` puts its messages in the outbox and
exits only once every one is acknowledged, whatever reconnects that took (the line-by-line
bookkeeping is :mod:`tertulia.cli.sending`); ``listen`` follows the room through reconnects and
server restarts, printing each message exactly once in seq order, with control characters
escaped. A server that cannot be reached at all on the first attempt (unknown host, connection
refused) fails at once; later losses are reconnected. Exit codes: 0 success, 1 failure (the
message says what), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tertulia.cli.common import CliError, read_password, run_async
from tertulia.cli.explain import explain
from tertulia.cli.progress import Progress
from tertulia.cli.resume import ResumeFile
from tertulia.cli.sending import SendJob, SendOptions
from tertulia.cli.textio import decode_argument, escape_controls
from tertulia.client import (
    DEFAULT_PORT,
    Client,
    ClientError,
    ConnectionStateChanged,
    ConnState,
    Event,
    Message,
    MessageKind,
    ServerError,
    TrustError,
    TrustPolicy,
    normalize_name,
    unreachable,
)

__all__ = ["format_message", "parse_server", "register"]

Handler = Callable[[argparse.Namespace], int]

#: longest --id-prefix: with ":" and a line number the msg_id stays within 64 characters
MAX_ID_PREFIX = 40
EXIT_USAGE = 2


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
        metavar="PIN",
        help="trust only the server whose public key has this pin (SPKI-SHA256:..., kept "
        "across certificate renewals: `tertulia admin fingerprint --pin`) or whose "
        "certificate has this fingerprint (SHA256:..., `tertulia admin fingerprint`)",
    )
    conn.add_argument(
        "--cafile", type=Path, metavar="PATH", help="verify the server against this CA (PEM)"
    )
    conn.add_argument(
        "--tofu",
        action="store_true",
        help="trust the certificate seen on first contact and remember it (like SSH); the "
        "fingerprint trusted and the file it is kept in are printed to stderr",
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
        help="give up if the first connection is not up after S seconds (default 30); an "
        "unknown host or a refused connection fails at once",
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
        "in order. Joins the room first, creating it (public) if it does not exist. Sends are "
        "paced to the server's message rate. Exits 0 once every message is acknowledged by the "
        "server, across reconnects; 1 if any was refused or could not be read (each is "
        "reported with its line number; the other lines are still sent); 130 after Ctrl+C, "
        "saying how far it got and how to resume. Blank stdin lines are skipped. Line N is "
        "sent with the msg_id PREFIX:N, so sending it again under the same prefix stores "
        "nothing twice.",
    )
    p.add_argument("--room", required=True, help="the room to send to")
    p.add_argument("--me", action="store_true", help="send as an action (/me)")
    p.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8",
        metavar="ENC",
        help="the encoding of the input lines and of TEXT (default utf-8)",
    )
    p.add_argument(
        "--errors",
        choices=("skip", "replace"),
        default="skip",
        help="a line that is not valid in that encoding is reported with its line number and "
        "skipped (skip, the default; exit status 1), or sent with U+FFFD in place of the bad "
        "bytes (replace)",
    )
    p.add_argument(
        "--id-prefix",
        type=_id_prefix,
        metavar="PREFIX",
        help="use PREFIX:N as the msg_id of line N (default: a random prefix per run, printed "
        "when interrupted); rerunning with the same prefix and input stores nothing twice",
    )
    p.add_argument(
        "--skip",
        type=_count,
        default=0,
        metavar="N",
        help="do not send the first N lines (an interrupted run finished them; use with the "
        "--id-prefix it printed)",
    )
    p.add_argument(
        "--resume-file",
        type=Path,
        metavar="PATH",
        help="remember in PATH how far the send got, so that running the same command on the "
        "same input again sends only the rest (removed once the input is finished)",
    )
    p.add_argument("text", nargs="*", metavar="TEXT", help="the message (default: stdin lines)")
    p.set_defaults(func=_send)

    p = sub.add_parser(
        "listen",
        parents=[common],
        help="print a room's messages as they arrive",
        description="Print each message of ROOM once, in order, following reconnects and "
        "server restarts. Plain: '[HH:MM] sender: text', control characters shown as escapes "
        "(\\x1b, \\n...); --json: one object per line, the exact text. The room must exist "
        "(see --create).",
    )
    p.add_argument("--room", required=True, help="the room to follow")
    p.add_argument(
        "--create",
        action="store_true",
        help="create the room (public) if it does not exist, instead of failing",
    )
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

    p = sub.add_parser(
        "invitations",
        parents=[common],
        help="list, accept or decline your pending invitations",
        description="Without ACTION (or with 'list'): print your pending invitations, one per "
        "line: 'ROOM (private|public) from USER: topic'. 'accept ROOM' makes you a member of "
        "ROOM; 'decline ROOM' drops the invitation. An invitation changes nothing until you "
        "accept it, and does not count toward your room limit.",
    )
    p.add_argument("action", nargs="?", choices=("list", "accept", "decline"), default="list")
    p.add_argument("room", nargs="?", help="the room (for accept and decline)")
    p.set_defaults(func=_invitations)


# --------------------------------------------------------------------------- invitations


def _invitations(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.room:
        return _fail(f"tertulia invitations {args.action} needs the ROOM")
    return _run(args, _invitations_body)


async def _invitations_body(args: argparse.Namespace) -> int:
    client = _make_client(args)
    await _start(client, args)
    try:
        if args.action == "accept":
            info = await client.accept_invitation(args.room)
            print(f"joined {info.name}")
        elif args.action == "decline":
            await client.decline_invitation(args.room)
            print(f"declined the invitation into {args.room}")
        else:
            pending = await client.invitations()
            for inv in pending:
                topic = f": {escape_controls(inv.topic)}" if inv.topic else ""
                print(f"{inv.room} ({inv.visibility}) from {inv.by}{topic}")
            if not pending:
                print("no pending invitations", file=sys.stderr)
    finally:
        await client.close()
    return 0


# --------------------------------------------------------------------------- argument types


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


def _encoding(text: str) -> str:
    try:
        return codecs.lookup(text).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r}") from None


def _id_prefix(text: str) -> str:
    if not 1 <= len(text) <= MAX_ID_PREFIX or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError(
            f"a prefix is 1 to {MAX_ID_PREFIX} printable characters without spaces"
        )
    return text


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a line count (0 or more), not {text!r}")
    return int(text)


# --------------------------------------------------------------------------- helpers


def format_message(msg: Message, *, as_json: bool = False) -> str:
    """One output line for ``msg``: JSON (exact text) or ``[HH:MM] sender: text`` (local time,
    control characters escaped so a message cannot drive the reader's terminal)."""
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
    sender, text = escape_controls(msg.sender), escape_controls(msg.text)
    if msg.kind == "me":
        return f"[{when}] * {sender} {text}"
    return f"[{when}] {sender}: {text}"


def _fail(message: str) -> int:
    print(f"tertulia: {message}", file=sys.stderr, flush=True)
    return 1


def _usage(args: argparse.Namespace, message: str) -> int:
    print(f"tertulia {args.command}: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


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


def _tofu_notice(policy: TrustPolicy) -> Callable[[str, str, int], bool]:
    """--tofu on first contact: say what is being trusted and where it is kept, like ssh."""

    def notice(fingerprint: str, host: str, port: int) -> bool:
        print(
            f"tertulia: first connection to {host}:{port}: trusting its certificate\n"
            f"  {fingerprint}\n"
            f"tertulia: remembering it in {policy.known_servers_path}; a different "
            "certificate from this server will be refused from now on",
            file=sys.stderr,
            flush=True,
        )
        return True

    return notice


def _make_client(args: argparse.Namespace, **kw: Any) -> Client:
    host, port = args.server
    trust: TrustPolicy = args._trust
    prompt = _tofu_notice(trust) if trust.mode == "tofu" else None
    return Client(host, port, args.user, args._password, trust=trust, prompt=prompt, **kw)


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
        host, port = args.server
        if unreachable(exc) is not None:
            return _fail(f"cannot connect to {host}:{port}: {explain(exc)}")
        return _fail(explain(exc))


async def _start(client: Client, args: argparse.Namespace) -> None:
    """Connect, or raise a clear error: at once if the server cannot be reached at all (no
    such host, connection refused), else after retrying up to ``--connect-timeout``."""
    host, port = args.server
    try:
        async with asyncio.timeout(args.connect_timeout):
            await client.start(fail_fast=True)
    except TimeoutError:
        err = client.last_error
        await client.close()
        reason = explain(err) if err is not None else "timed out"
        raise CliError(f"cannot connect to {host}:{port}: {reason}") from None
    except BaseException:
        await client.close()
        raise


def _report_state(ev: ConnectionStateChanged, say: Callable[[str], None]) -> None:
    """Connection trouble goes to stderr, so it never mixes with the data on stdout."""
    if ev.state is ConnState.RECONNECTING:
        reason = explain(ev.error) if ev.error is not None else "connection lost"
        say(f"tertulia: {reason}; reconnecting in {ev.retry_in or 0:.1f} s")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- register


def _register(args: argparse.Namespace) -> int:
    async def body(args: argparse.Namespace) -> int:
        client = _make_client(args)
        await client.register()
        print(f"registered {client.user} on {args.server[0]}:{args.server[1]}")
        return 0

    return _run(args, body, confirm=True)


# --------------------------------------------------------------------------- send


def _send(args: argparse.Namespace) -> int:
    text = None
    if args.text:
        if args.skip or args.resume_file is not None:
            return _usage(args, "--skip and --resume-file apply to stdin lines, not to TEXT")
        parts = []
        for arg in args.text:
            part, error = decode_argument(arg, args.encoding, args.errors)
            if part is None:
                return _fail(
                    f"message not sent: TEXT is {error}; use --encoding, or --errors replace"
                )
            parts.append(part)
        text = " ".join(parts)
        if not text.strip():
            return _usage(
                args, "the message is empty: give some TEXT, or none to send the lines of stdin"
            )
    if args.resume_file is not None and args.skip:
        return _usage(args, "use --skip or --resume-file, not both (the file knows what to skip)")
    args._text = text
    return _run(args, _send_body)


def _send_options(args: argparse.Namespace) -> SendOptions:
    room = normalize_name(args.room)
    kind: MessageKind = "me" if args.me else "text"
    resume = ResumeFile(args.resume_file) if args.resume_file is not None else None
    state = resume.load() if resume is not None else None
    prefix = args.id_prefix
    if state is not None:
        if (state.room, state.kind) != (room, kind):
            raise CliError(
                f"the resume file {args.resume_file} is of a send to {state.room!r} "
                f"({state.kind}), not to {room!r} ({kind}); use another file"
            )
        if prefix is not None and prefix != state.prefix:
            raise CliError(
                f"the resume file {args.resume_file} was written with --id-prefix "
                f"{state.prefix}, not {prefix}"
            )
        prefix = state.prefix
    return SendOptions(
        room=room,
        kind=kind,
        prefix=prefix or secrets.token_hex(8),
        chosen_prefix=prefix is not None,
        encoding=args.encoding,
        errors=args.errors,
        skip=args.skip,
        resume=resume,
        resume_state=state,
    )


async def _send_body(args: argparse.Namespace) -> int:
    opts = _send_options(args)
    client = _make_client(args, rooms=[opts.room])
    progress = Progress(sys.stderr, enabled=None if not sys.stdin.isatty() else False)
    job = SendJob(client, opts, progress)

    @client.on_event
    def _state(ev: Event) -> None:
        if isinstance(ev, ConnectionStateChanged):
            _report_state(ev, progress.note)
            if ev.state is ConnState.OFFLINE and ev.error is not None:
                job.gave_up(ev.error)

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        starting = asyncio.ensure_future(_start(client, args))
        stop = asyncio.ensure_future(interrupted.wait())
        await asyncio.wait({starting, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            await client.close()
            return _interrupted_before_sending()
        starting.result()
        loop.remove_signal_handler(signal.SIGINT)
        loop.add_signal_handler(signal.SIGINT, _second_interrupt(loop, job))
        try:
            if args._text is not None:
                return await job.run_text(args._text)
            return await job.run_lines(sys.stdin.fileno())
        finally:
            await client.close()
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _second_interrupt(loop: asyncio.AbstractEventLoop, job: SendJob) -> Callable[[], None]:
    """The first Ctrl+C stops gracefully; a second one (while acks are awaited) exits at once."""

    def handler() -> None:
        if job.interrupted:
            loop.remove_signal_handler(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # default handler now: KeyboardInterrupt
            return
        job.interrupt()

    return handler


def _interrupted_before_sending() -> int:
    _fail("interrupted before the connection was up: nothing was sent")
    return 130


# --------------------------------------------------------------------------- listen


def _listen(args: argparse.Namespace) -> int:
    return _run(args, _listen_body)


async def _listen_body(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cursors = {args.room: max(0, args.since)} if args.since is not None else None
    client = _make_client(args, rooms=[args.room], cursors=cursors, create_rooms=args.create)
    stream = client.events()
    count = 0
    try:
        deadline = None if args.timeout is None else started + args.timeout
        async with asyncio.timeout_at(_loop_time(deadline)):
            try:
                await _start(client, args)
            except ServerError as exc:
                if exc.code == "room_not_found":
                    raise CliError(_no_such_room(args)) from None
                raise
            room = normalize_name(args.room)
            if args.count is not None and args.count <= 0:
                return 0
            async for ev in stream:
                if isinstance(ev, ConnectionStateChanged):
                    _report_state(ev, _say)
                    if ev.state is ConnState.OFFLINE and ev.error is not None:
                        return _fail(explain(ev.error))
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


def _no_such_room(args: argparse.Namespace) -> str:
    room = normalize_name(args.room)
    return (
        f"no room {room!r} on this server (or it is private and you were not invited); "
        "listen does not create rooms: check the name, or create it with `tertulia listen "
        f"--create --room {room} ...` or by sending to it with `tertulia send --room {room} ...`"
    )


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
