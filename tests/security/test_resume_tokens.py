"""Resume tokens: random 256-bit values, stored hashed, expiring, revocable."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

from security_kit import bye_of, connect, expect_code, server_of, strict_server, user

from tertulia.proto import messages as m
from tertulia.server.config import SessionConfig
from tertulia_testkit import PASSWORD


async def _login(srv: object, name: str, register: bool = False) -> tuple[object, m.LoginOk]:
    c = await connect(srv)
    await c.hello()
    if register:
        await c.request(m.Register(id=c.next_id(), user=name, password=PASSWORD))
    ok = await c.request(m.Login(id=c.next_id(), user=name, password=PASSWORD))
    return c, ok


async def test_token_is_random_hashed_and_resumes(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        _, ok = await _login(srv, "alice", register=True)
        assert ok.token is not None and ok.token_expires is not None
        assert len(base64.urlsafe_b64decode(ok.token + "=")) == 32  # 256 bits
        _, ok2 = await _login(srv, "alice")
        assert ok2.token != ok.token
        db = sqlite3.connect(tmp_path / "s" / "tertulia.db")
        stored = [bytes(h) for (h,) in db.execute("SELECT hash FROM tokens")]
        db.close()
        assert len(stored) == 2 and all(ok.token.encode() not in h for h in stored)
        r = await connect(srv)
        await r.hello()
        resumed = await r.request(m.Resume(id=1, token=ok.token))
        assert resumed.user == "alice" and resumed.token is None  # the same token goes on
        await r.request(m.ListRooms(id=2))


async def test_bad_tokens_fail_like_bad_passwords(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", login_failures_per_ip=3) as srv:
        r = await connect(srv, "127.0.0.9")
        await r.hello()
        for bad in ("x" * 43, base64.urlsafe_b64encode(b"\0" * 32).decode(), "a" * 4000):
            await expect_code(r, m.Resume(id=r.next_id(), token=bad), "auth_failed")
        await expect_code(r, m.Resume(id=r.next_id(), token="y" * 43), "login_throttled")


async def test_logout_revokes_the_token(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        c, ok = await _login(srv, "alice", register=True)
        await c.request(m.Logout(id=c.next_id()))
        r = await connect(srv)
        await r.hello()
        await expect_code(r, m.Resume(id=1, token=ok.token or ""), "auth_failed")


async def test_password_change_revokes_every_token_and_device(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        phone, ok = await _login(srv, "alice", register=True)
        laptop, ok2 = await _login(srv, "alice")
        await expect_code(
            laptop,
            m.ChangePassword(id=1, old_password="wrong one", new_password="a new password"),
            "auth_failed",
        )
        await laptop.request(
            m.ChangePassword(id=2, old_password=PASSWORD, new_password="a new password")
        )
        assert (await bye_of(phone)).code == "session_revoked"  # the other device is out
        await laptop.request(m.ListRooms(id=3))  # the device that changed it stays
        for token in (ok.token, ok2.token):
            r = await connect(srv)
            await r.hello()
            await expect_code(r, m.Resume(id=1, token=token or ""), "auth_failed")
        r = await connect(srv)
        await r.hello()
        await r.request(m.Login(id=1, user="alice", password="a new password"))


async def test_tokens_expire_and_are_capped(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        server_of(srv).config.sessions = SessionConfig(token_ttl=0.2, max_tokens_per_user=2)
        _, old = await _login(srv, "alice", register=True)
        _, mid = await _login(srv, "alice")
        server_of(srv).config.sessions = SessionConfig(token_ttl=3600, max_tokens_per_user=2)
        await _login(srv, "alice")
        _, new2 = await _login(srv, "alice")
        r = await connect(srv)
        await r.hello()
        for token in (old.token, mid.token):  # expired, and pushed out by newer ones
            await expect_code(r, m.Resume(id=r.next_id(), token=token or ""), "auth_failed")
        await r.request(m.Resume(id=r.next_id(), token=new2.token or ""))
        a = await user(srv, "bob")
        await a.close()


async def test_a_token_has_exactly_one_spelling(tmp_path: Path) -> None:
    """Issue 12, item 14: ``=`` padding, the standard base64 alphabet, surrounding spaces and a
    non-canonical last character all decode to the same 32 bytes, and were accepted; only the
    spelling ``login_ok`` gave resumes now."""
    async with strict_server(tmp_path / "s", login_failures_per_ip=1000) as srv:
        _, ok = await _login(srv, "alice", register=True)
        token = ok.token or ""
        raw = base64.urlsafe_b64decode(token + "=")
        standard = base64.b64encode(raw).decode().rstrip("=")
        # the last of 43 characters carries 4 bits of the secret and 2 unused ones: set one
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(token[-1])
        sloppy_tail = token[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
        assert base64.urlsafe_b64decode(sloppy_tail + "=") == raw
        spellings = [token + "=", f" {token}", f"{token} ", f"{token}\n", sloppy_tail]
        if standard != token:  # the token has a "-" or "_" (almost always)
            spellings.append(standard)
        r = await connect(srv)
        await r.hello()
        for spelling in spellings:
            err = await expect_code(r, m.Resume(id=r.next_id(), token=spelling), "auth_failed")
            assert err.message == "invalid or expired token"
        await r.request(m.Resume(id=r.next_id(), token=token))


async def test_a_lost_revocation_is_applied_when_the_bus_resyncs(tmp_path: Path) -> None:
    """Redis pub/sub is at-most-once: a node that missed another node's ``UserRevoked`` (its
    bus reconnected) checks the credentials of its connected users from storage on resync."""
    async with strict_server(tmp_path / "s") as srv:
        server = server_of(srv)
        phone, _ = await _login(srv, "alice", register=True)
        bob, _ = await _login(srv, "bob", register=True)
        # as another node does it: storage changes, and the event never arrives here
        assert await server.storage.set_password("alice", await server.passwords.hash("x" * 9))
        server.hub.resync()  # what the bus calls after re-subscribing
        assert (await bye_of(phone)).code == "session_revoked"
        await bob.request(m.ListRooms(id=bob.next_id()))  # nobody else is touched
