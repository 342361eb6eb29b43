"""``tertulia admin``: operator tasks on a server's data directory (users, fingerprint).

These are for the machine that runs the server. Changes a running server must apply at once
(``user passwd``, ``user disable``, ``room close``) go through its operator socket
(``server/status.py``), so its open connections are closed or told right away and the change
reaches every node of a cluster over the bus; with no server running they work on the database
directly (SQLite in WAL mode, or the cluster's PostgreSQL).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tertulia.cli.common import CliError, read_password, run_async
from tertulia.server.config import ServerConfig, load_config
from tertulia.server.names import InvalidName, check_new_name, normalize_name
from tertulia.server.passwords import Passwords
from tertulia.server.storage.base import NameTakenError, Storage

T = TypeVar("T")

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("admin", help="administer a server's data directory")
    p.add_argument("--data-dir", type=Path, help="the server's data directory (default ./data)")
    p.add_argument("--config", type=Path, help="the server's TOML configuration file")
    asub = p.add_subparsers(dest="admin_command", metavar="SUBCOMMAND", required=True)

    user = asub.add_parser("user", help="manage accounts")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = usub.add_parser(
        "add", help="create an account (password from TERTULIA_PASSWORD or prompt)"
    )
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the account a server admin")
    add.set_defaults(func=_user_add)
    lst = usub.add_parser("list", help="list accounts")
    lst.set_defaults(func=_user_list)
    pw = usub.add_parser("passwd", help="set an account's password")
    pw.add_argument("name")
    pw.set_defaults(func=_user_passwd)
    dis = usub.add_parser(
        "disable", help="disable an account: no login, tokens revoked, connections closed"
    )
    dis.add_argument("name")
    dis.set_defaults(func=_user_disable, disabled=True)
    ena = usub.add_parser("enable", help="re-enable a disabled account")
    ena.add_argument("name")
    ena.set_defaults(func=_user_disable, disabled=False)

    room = asub.add_parser("room", help="manage rooms")
    rsub = room.add_subparsers(dest="room_command", metavar="ACTION", required=True)
    close = rsub.add_parser(
        "close", help="close a room for good: members removed, name kept, messages kept"
    )
    close.add_argument("name")
    close.set_defaults(func=_room_close)

    tls = asub.add_parser("reload-tls", help="make a running server load its certificate again")
    tls.set_defaults(func=_reload_tls)

    ses = asub.add_parser("sessions", help="show a running server's connections and held sessions")
    ses.add_argument("--json", action="store_true", help="print the raw JSON status")
    ses.set_defaults(func=_sessions)

    fp = asub.add_parser("fingerprint", help="print the server certificate's SHA-256 fingerprint")
    fp.add_argument(
        "--pin",
        action="store_true",
        help="print the public-key pin instead (SPKI-SHA256:..., kept across renewals)",
    )
    fp.set_defaults(func=_fingerprint)

    from tertulia.cli.admin_backup import register_backup

    register_backup(asub)


def _config(args: argparse.Namespace) -> ServerConfig:
    return load_config(args.config, data_dir=args.data_dir)


def _user_add(args: argparse.Namespace) -> int:
    cfg = _config(args)
    try:
        name = normalize_name(args.name, cfg.limits.max_name)
        check_new_name(name)
    except InvalidName as exc:
        return _fail(f"invalid user name: {exc}")
    try:
        password = read_password(confirm=True)
    except CliError as exc:
        return _fail(str(exc))
    if len(password) < cfg.passwords.min_length:
        return _fail(f"password must be at least {cfg.passwords.min_length} characters")

    pw_hash = _hash(cfg, password)
    try:
        _on_storage(cfg, lambda st: st.create_user(name, pw_hash, is_admin=args.admin))
    except NameTakenError:
        return _fail(f"user {name!r} already exists")
    print(f"created user {name}{' (admin)' if args.admin else ''}")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    cfg = _config(args)

    for u in _on_storage(cfg, lambda st: st.list_users()):
        when = datetime.fromtimestamp(u.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        flags = ",".join(f for f, on in (("admin", u.is_admin), ("disabled", u.disabled)) if on)
        print(f"{u.name}\t{when}\t{flags}")
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    cfg = _config(args)
    try:
        name = normalize_name(args.name, cfg.limits.max_name)
        password = read_password("New password: ", confirm=True)
    except (InvalidName, CliError) as exc:
        return _fail(str(exc))
    if len(password) < cfg.passwords.min_length:
        return _fail(f"password must be at least {cfg.passwords.min_length} characters")

    pw_hash = _hash(cfg, password)
    # through the running server when there is one, so its connections of that user close at
    # once (on every node of a cluster); else on the database directly
    answer = _live(cfg, f"passwd {name} {pw_hash}")
    if answer is not None:
        ok = bool(answer.get("ok"))
        if not ok and answer.get("error"):
            return _fail(f"password not changed: {answer.get('error')}")
    else:
        gen = _on_storage(cfg, lambda st: st.set_password(name, pw_hash))
        ok = gen is not None
        if gen is not None:
            _revoke_in_cluster(cfg, name, gen, "session_revoked", "the password was changed")
    if not ok:
        return _fail(f"no user {name!r}")
    print(f"password changed for {name}")
    return 0


def _revoke_in_cluster(cfg: ServerConfig, user: str, gen: int, code: str, message: str) -> None:
    """After a change made on the database with no local server running: in a cluster, tell
    every node over the bus, so their open connections of ``user`` close at once (as when the
    change goes through a running server). Single node: no server runs, nothing to close."""
    if not cfg.bus.url:
        return
    from tertulia.server.app import open_bus
    from tertulia.server.bus.base import BusError, UserRevoked

    async def tell() -> None:
        bus = open_bus(cfg)
        await bus.start(lambda ev: None, lambda: None)
        try:
            bus.publish(
                UserRevoked(origin=bus.node_id, user=user, code=code, message=message, gen=gen)
            )
        finally:
            await bus.close()  # flushes what is queued

    try:
        run_async(tell())
    except BusError as exc:
        print(
            f"tertulia: warning: changed on the database, but the other nodes were not told"
            f" ({exc}); their connections of {user!r} close at their next bus resync",
            file=sys.stderr,
        )


def _live(cfg: ServerConfig, command: str) -> dict[str, object] | None:
    """Ask the running server (status socket) to act; None if no server is running."""
    from tertulia.server.status import query_status

    try:
        return run_async(query_status(Path(cfg.data_dir), command))
    except (FileNotFoundError, ConnectionRefusedError):
        return None


def _user_disable(args: argparse.Namespace) -> int:
    """Through the running server when there is one (its connections close at once), else on
    the database directly."""
    cfg = _config(args)
    try:
        name = normalize_name(args.name, cfg.limits.max_name)
    except InvalidName as exc:
        return _fail(f"invalid user name: {exc}")
    verb = "disable" if args.disabled else "enable"
    answer = _live(cfg, f"{verb} {name}")
    if answer is not None:
        ok = bool(answer.get("ok"))
    else:
        gen = _on_storage(cfg, lambda st: st.set_disabled(name, args.disabled))
        ok = gen is not None
        if gen is not None and args.disabled:
            _revoke_in_cluster(cfg, name, gen, "account_disabled", "this account has been disabled")
    if not ok:
        return _fail(f"no user {name!r}")
    print(f"{verb}d user {name}")
    return 0


def _room_close(args: argparse.Namespace) -> int:
    cfg = _config(args)
    try:
        name = normalize_name(args.name, cfg.limits.max_name)
    except InvalidName:
        name = args.name  # dm:a:b names are not single names; look them up as given
    answer = _live(cfg, f"close-room {name}")
    if answer is not None:
        ok = bool(answer.get("ok"))
    else:

        async def close(storage: Storage) -> bool:
            room = await storage.get_room(name)
            if room is None or room.closed:
                return False
            await storage.close_room(name)
            return True

        ok = _on_storage(cfg, close)
    if not ok:
        return _fail(f"no open room {name!r}")
    print(f"closed room {name}")
    return 0


def _reload_tls(args: argparse.Namespace) -> int:
    cfg = _config(args)
    answer = _live(cfg, "reload-tls")
    if answer is None:
        return _fail(f"no running server on {cfg.data_dir} (no status socket)")
    if not answer.get("ok"):
        return _fail(f"certificate not reloaded: {answer.get('error')}")
    print(f"reloaded; fingerprint {answer.get('fingerprint')}")
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    from tertulia.transport.tls import ensure_server_identity

    cfg = _config(args)
    data_dir = Path(cfg.data_dir)
    if cfg.tls.cert is None and not (data_dir / "tls" / "cert.pem").exists():
        return _fail(f"no certificate in {data_dir}: start the server once to create it")
    identity = ensure_server_identity(data_dir, cert=cfg.tls.cert, key=cfg.tls.key)
    print(identity.spki if getattr(args, "pin", False) else identity.fingerprint)
    return 0


def _sessions(args: argparse.Namespace) -> int:
    import json

    from tertulia.server.status import query_status

    cfg = _config(args)
    try:
        status = run_async(query_status(Path(cfg.data_dir)))
    except (FileNotFoundError, ConnectionRefusedError):
        return _fail(f"no running server on {cfg.data_dir} (no status socket)")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(
        f"listening on {status['listen']}; {status['connections_total']} connections "
        f"({status['pre_login']} not logged in); grace period {status['session_grace']} s"
    )
    print(f"{'USER':<20} {'STATE':<8} {'CONNS':>5} {'QUEUED':>9} {'AGE/HELD':>9}  EXPIRES")
    users = status.get("users")
    assert isinstance(users, list)
    for u in users:
        conns = u["connections"]
        queued = sum(c["queued_bytes"] for c in conns)
        age = max((c["age"] for c in conns), default=u["held_for"] or 0)
        expires = "" if u["expires_in"] is None else f"{u['expires_in']} s"
        print(f"{u['user']:<20} {u['status']:<8} {len(conns):>5} {queued:>9} {age:>9}  {expires}")
    return 0


def _hash(cfg: ServerConfig, password: str) -> str:
    """argon2id at the server's configured cost (synchronously: a CLI has no loop to spare)."""
    pw = Passwords(cfg.passwords)
    try:
        return pw.hash_sync(password)
    finally:
        pw.close()


def _on_storage(cfg: ServerConfig, fn: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the data directory's storage, run ``fn`` on it, and close it again."""

    async def go() -> T:
        storage = _open(cfg)
        await storage.open()
        try:
            return await fn(storage)
        finally:
            await storage.close()

    return run_async(go())


def _open(cfg: ServerConfig) -> Storage:
    from tertulia.server.app import open_storage

    data_dir = Path(cfg.data_dir)
    if not data_dir.is_dir():
        raise SystemExit(f"tertulia: no data directory {data_dir}")
    return open_storage(cfg)


def _fail(message: str) -> int:
    print(f"tertulia: {message}", file=sys.stderr)
    return 1
