"""Room roles, moderation and server administration, over real TLS.

The authorization matrix tries every room command as an outsider, a plain member and a banned
user, in a public and a private room, and checks the error code each one gets.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from login_race import login_race
from security_kit import bye_of, connect, expect_code, server_of, strict_server, user

from tertulia.proto import messages as m
from tertulia.server.config import PasswordConfig
from tertulia.server.passwords import Passwords
from tertulia_testkit import PASSWORD, RawClient


def room_requests(room: str) -> list[Any]:
    """One request of every room-scoped kind (ids are filled in by the caller)."""
    return [
        m.Invite(id=0, room=room, user="carol"),
        m.SetTopic(id=0, room=room, topic="mine now"),
        m.Send(id=0, room=room, msg_id=os.urandom(6).hex(), text="hi"),
        m.History(id=0, room=room),
        m.Members(id=0, room=room),
        m.MarkRead(id=0, room=room, seq=1),
        m.Kick(id=0, room=room, user="carol"),
        m.Ban(id=0, room=room, user="carol"),
        m.Unban(id=0, room=room, user="mallory"),
        m.Bans(id=0, room=room),
        m.Mute(id=0, room=room, user="carol"),
        m.Unmute(id=0, room=room, user="carol"),
        m.SetRole(id=0, room=room, user="carol", role="moderator"),
        m.Leave(id=0, room=room),  # last: it ends the membership
    ]


#: what a plain member gets (None: allowed)
MEMBER_PUBLIC = {
    "leave": None,
    "invite": None,
    "set_topic": "forbidden",
    "send": None,
    "history": None,
    "members": None,
    "mark_read": None,
    "kick": "forbidden",
    "ban": "forbidden",
    "unban": "forbidden",
    "bans": "forbidden",
    "mute": "forbidden",
    "unmute": "forbidden",
    "set_role": "forbidden",
}
MEMBER_PRIVATE = dict(MEMBER_PUBLIC, invite="forbidden")


def kind(req: Any) -> str:
    return str(type(req).__struct_config__.tag)


async def _try(c: RawClient, req: Any) -> str | None:
    req.id = c.next_id()
    reply = await c.request(req, check=False)
    return reply.code if isinstance(reply, m.Error) else None


async def test_authorization_matrix(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        alice, bob, carol, mallory, eve, pat = [
            await user(srv, u) for u in ("alice", "bob", "carol", "mallory", "eve", "pat")
        ]
        await alice.request(m.CreateRoom(id=1, room="pub"))
        await alice.request(m.CreateRoom(id=2, room="priv", visibility="private"))
        for c in (bob, carol, mallory):
            await c.request(m.Join(id=c.next_id(), room="pub"))
        for u, c in (("bob", bob), ("carol", carol), ("mallory", mallory)):
            await alice.request(m.Invite(id=alice.next_id(), room="priv", user=u))
            await c.request(m.AcceptInvitation(id=c.next_id(), room="priv"))
        # pat's invitations stay pending: an invitation is not a membership
        for r in ("pub", "priv"):
            await alice.request(m.Invite(id=alice.next_id(), room=r, user="pat"))
            await alice.request(m.Invite(id=alice.next_id(), room=r, user="mallory"))
            await alice.request(m.Ban(id=alice.next_id(), room=r, user="mallory"))

        # nobody accepts or declines an invitation they do not hold, and a ban voids one
        for c in (eve, mallory, bob):
            for r in ("pub", "priv", "nowhere"):
                for req in (m.AcceptInvitation(id=0, room=r), m.DeclineInvitation(id=0, room=r)):
                    assert await _try(c, req) == "room_not_found", (kind(req), r)
        listed = await mallory.request(m.ListInvitations(id=mallory.next_id()))
        assert listed.invitations == []

        for room, outsider_code in (("pub", "not_member"), ("priv", "room_not_found")):
            for who, c in (("outsider", eve), ("banned", mallory), ("invited", pat)):
                for req in room_requests(room):
                    got = await _try(c, req)
                    assert got == outsider_code, (who, room, kind(req), got)
                c.notice(m.Typing(room=room))
                err = await c.event(m.Error)
                assert err.code == outsider_code and err.id is None
            join_code = "banned" if room == "pub" else "room_not_found"
            assert await _try(mallory, m.Join(id=0, room=room)) == join_code
            assert await _try(alice, m.Invite(id=0, room=room, user="mallory")) == "banned"
            expected = MEMBER_PUBLIC if room == "pub" else MEMBER_PRIVATE
            for req in room_requests(room):
                got = await _try(bob, req)
                assert got == expected[kind(req)], ("member", room, kind(req), got)
        # pat's invitations were still pending all along, and now become memberships
        listed = await pat.request(m.ListInvitations(id=pat.next_id()))
        assert {(i.room, i.by) for i in listed.invitations} == {("pub", "alice"), ("priv", "alice")}
        for r in ("pub", "priv"):
            await pat.request(m.AcceptInvitation(id=pat.next_id(), room=r))
            assert await _try(pat, m.History(id=0, room=r)) is None
        # server administration is for server admins only
        assert await _try(bob, m.DisableUser(id=0, user="carol")) == "forbidden"
        assert await _try(bob, m.CloseRoom(id=0, room="pub")) == "forbidden"
        await _login_race_rows(srv)


async def _login_race_rows(srv: Any) -> None:
    """The matrix's login-race rows: a login in flight with the old password is refused or
    closed once the password changes (the user's own change, and an admin's disable), and its
    token does not resume (tests/security/login_race.py)."""
    server = server_of(srv)
    # hashes slow enough (~30 ms) to be in flight while the change commits
    fast, server.passwords = (
        server.passwords,
        Passwords(PasswordConfig(time_cost=2, memory_cost=16384, parallelism=1)),
    )
    fast.close()
    await server.storage.create_user("boss", await server.passwords.hash(PASSWORD), is_admin=True)
    boss = await user(srv, "boss", register=False)
    victim = await user(srv, "victim")

    async def change() -> None:
        await victim.request(
            m.ChangePassword(id=victim.next_id(), old_password=PASSWORD, new_password="new one!")
        )

    await login_race(srv, "victim", PASSWORD, change, bye_code="session_revoked")
    await victim.request(m.ListRooms(id=victim.next_id()))  # the connection that changed it

    await user(srv, "victim2")  # no failed logins on record: the throttle stays out of it

    async def disable() -> None:
        await boss.request(m.DisableUser(id=boss.next_id(), user="victim2"))

    await login_race(srv, "victim2", PASSWORD, disable, bye_code="account_disabled", first_ip=80)


async def test_kick_ban_mute_and_their_events(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        alice, bob, carol = [await user(srv, u) for u in ("alice", "bob", "carol")]
        await alice.request(m.CreateRoom(id=1, room="r"))
        for c in (bob, carol):
            await c.request(m.Join(id=c.next_id(), room="r"))
        await alice.request(m.SetRole(id=2, room="r", user="bob", role="moderator"))
        assert (await carol.event(m.RoleEvent)).role == "moderator"
        # a moderator may not act on an equal or on the owner
        await expect_code(bob, m.Kick(id=3, room="r", user="alice"), "forbidden")
        await expect_code(
            bob, m.SetRole(id=4, room="r", user="carol", role="moderator"), "forbidden"
        )
        await expect_code(bob, m.Kick(id=5, room="r", user="bob"), "invalid_argument")

        for bad in (0, -1, 366 * 86400):
            err = await expect_code(
                bob, m.Mute(id=6, room="r", user="carol", seconds=bad), "invalid_argument"
            )
            assert err.params["field"] == "seconds"
        await bob.request(m.Mute(id=6, room="r", user="carol", seconds=60))
        muted = await alice.event(m.MutedEvent)
        assert muted.user == "carol" and muted.until is not None
        err = await expect_code(carol, m.Send(id=1, room="r", msg_id="c1", text="hey"), "muted")
        assert err.params["until"] == muted.until
        await expect_code(carol, m.SetTopic(id=2, room="r", topic="x"), "forbidden")
        await bob.request(m.Unmute(id=7, room="r", user="carol"))
        await carol.request(m.Send(id=3, room="r", msg_id="c2", text="thanks"))

        await bob.request(m.Kick(id=8, room="r", user="carol", reason="spam"))
        removed = await carol.event(m.RoomRemoved)
        assert (removed.room, removed.reason, removed.by) == ("r", "kicked", "bob")
        ev = await alice.event(m.MemberEvent)
        while ev.action != "kicked":
            ev = await alice.event(m.MemberEvent)
        assert (ev.user, ev.by) == ("carol", "bob")
        await carol.request(m.Join(id=4, room="r"))  # a kick is not a ban

        await bob.request(m.Ban(id=9, room="r", user="carol", reason="again"))
        assert (await carol.event(m.RoomRemoved)).reason == "banned"
        await expect_code(carol, m.Join(id=5, room="r"), "banned")
        bans = await bob.request(m.Bans(id=10, room="r"))
        assert [(b.user, b.by, b.reason) for b in bans.bans] == [("carol", "bob", "again")]
        await bob.request(m.Unban(id=11, room="r", user="carol"))
        await carol.request(m.Join(id=6, room="r"))


async def test_roles_in_room_info_and_ownership_hand_over(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        alice, bob, carol = [await user(srv, u) for u in ("alice", "bob", "carol")]
        info = (await alice.request(m.CreateRoom(id=1, room="r"))).room
        assert info.role == "owner"
        for c in (bob, carol):
            assert (await c.request(m.Join(id=c.next_id(), room="r"))).room.role == "member"
        await alice.request(m.SetRole(id=2, room="r", user="carol", role="moderator"))
        members = await bob.request(m.Members(id=3, room="r"))
        assert {x.user: x.role for x in members.members} == {
            "alice": "owner",
            "bob": "member",
            "carol": "moderator",
        }
        await alice.request(m.Leave(id=4, room="r"))  # the moderator inherits the room
        ev = await bob.event(m.RoleEvent)
        assert (ev.user, ev.role) == ("carol", "moderator")
        ev = await bob.event(m.RoleEvent)
        assert (ev.user, ev.role, ev.by) == ("carol", "owner", "alice")
        await carol.request(m.SetRole(id=5, room="r", user="bob", role="owner"))  # hand over
        roles = {x.user: x.role for x in (await bob.request(m.Members(id=6, room="r"))).members}
        assert roles == {"bob": "owner", "carol": "moderator"}
        # DMs have no moderation
        dm = (await bob.request(m.OpenDm(id=7, user="carol"))).room.name
        await expect_code(bob, m.Kick(id=8, room=dm, user="carol"), "forbidden")


async def test_admin_disables_accounts_and_closes_rooms(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        server = server_of(srv)
        await server.storage.create_user(
            "root", await server.passwords.hash(PASSWORD), is_admin=True
        )
        root = await user(srv, "root", register=False)
        bob, carol = await user(srv, "bob"), await user(srv, "carol")
        await bob.request(m.CreateRoom(id=1, room="r"))
        await carol.request(m.Join(id=1, room="r"))
        await root.request(m.CloseRoom(id=root.next_id(), room="r"))
        for c in (bob, carol):
            removed = await c.event(m.RoomRemoved)
            assert (removed.room, removed.reason) == ("r", "closed")
        await expect_code(bob, m.Join(id=2, room="r"), "room_not_found")
        await expect_code(bob, m.CreateRoom(id=3, room="r"), "room_exists")
        await expect_code(root, m.CloseRoom(id=root.next_id(), room="r"), "room_not_found")

        await root.request(m.DisableUser(id=root.next_id(), user="carol"))
        assert (await bye_of(carol)).code == "account_disabled"
        c = await connect(srv)
        await c.hello()
        await expect_code(c, m.Login(id=1, user="carol", password=PASSWORD), "auth_failed")
        await root.request(m.DisableUser(id=root.next_id(), user="carol", disabled=False))
        await c.request(m.Login(id=2, user="carol", password=PASSWORD))
        await expect_code(root, m.DisableUser(id=root.next_id(), user="ghost"), "user_not_found")


def _admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tertulia", "admin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_cli_disables_a_connected_user_at_once(server_proc_factory: Any) -> None:
    srv = server_proc_factory("srv")
    bob = await RawClient.connect(srv.host, srv.port)
    await bob.login("bob", register=True)
    await bob.request(m.CreateRoom(id=bob.next_id(), room="r"))
    data = ["--data-dir", str(srv.data_dir), "--config", str(srv.config_path)]
    proc = await asyncio.to_thread(_admin, *data, "user", "disable", "bob")
    assert proc.returncode == 0, proc.stderr
    assert (await bye_of(bob)).code == "account_disabled"
    await bob.close()
    proc = await asyncio.to_thread(_admin, *data, "room", "close", "r")
    assert proc.returncode == 0 and "closed room r" in proc.stdout, proc.stderr
    proc = await asyncio.to_thread(_admin, *data, "user", "enable", "bob")
    assert proc.returncode == 0, proc.stderr
    bob = await RawClient.connect(srv.host, srv.port)
    await bob.login("bob")
    await expect_code(bob, m.Join(id=bob.next_id(), room="r"), "room_not_found")
    await bob.close()


@pytest.mark.slow
async def test_cli_passwd_closes_a_connected_user_at_once(server_proc_factory: Any) -> None:
    """``tertulia admin user passwd`` on a running server: the user's open connections are
    closed at once (not only their tokens revoked), and the new password works."""
    srv = server_proc_factory("srv")
    bob = await RawClient.connect(srv.host, srv.port)
    await bob.login("bob", register=True)
    data = ["--data-dir", str(srv.data_dir), "--config", str(srv.config_path)]
    env = {**os.environ, "TERTULIA_PASSWORD": "an operator's choice"}
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tertulia", "admin", *data, "user", "passwd", "bob"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert proc.returncode == 0 and "password changed for bob" in proc.stdout, proc.stderr
    assert (await bye_of(bob)).code == "session_revoked"
    await bob.close()
    again = await RawClient.connect(srv.host, srv.port)
    await again.login("bob", "an operator's choice")
    await again.close()
