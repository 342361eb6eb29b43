"""Issue 12, item 7: invitations without consent no longer fill a victim's room quota.

The attack of the issue: create a private room, invite the victim, leave; in a loop. Before,
each round made the victim a member, so 200 rounds left them unable to join, create or be
DMed. Now an invitation is pending until accepted: the victim's rooms stay empty, the pending
list stops at ``max_pending_invitations`` (``too_many_invitations``), each inviter is rated
(``rate_limited``), and the victim clears the list by declining. Runs beside an honest pair
(``attack_kit.under_attack``), which prints the honest latency and the server's RSS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attack_kit import under_attack

from tertulia.proto import messages as m
from tertulia_testkit import RawClient, ServerProcess

ROUNDS_PER_ATTACKER = 10
ATTACKERS = ("mallory", "trudy", "oscar")
LIMITS = """
[limits]
exempt_networks = []
max_rooms_per_user = 20
max_pending_invitations = 10
invitation_rate = 1000.0
invitation_burst = 1000
"""


async def _client(srv: ServerProcess, name: str) -> RawClient:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login(name, register=True)
    return c


async def test_invite_and_leave_loop_does_not_fill_the_victims_quota(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv", extra_toml=LIMITS)
    victim = await _client(srv, "victim")
    attackers = [await _client(srv, n) for n in ATTACKERS]
    codes: dict[str, int] = {}

    async def attack() -> dict[str, Any]:
        for who, c in zip(ATTACKERS, attackers, strict=True):
            for i in range(ROUNDS_PER_ATTACKER):
                room = f"trap-{who}-{i}"
                await c.request(m.CreateRoom(id=c.next_id(), room=room, visibility="private"))
                reply = await c.request(
                    m.Invite(id=c.next_id(), room=room, user="victim"), check=False
                )
                code = reply.code if isinstance(reply, m.Error) else "ok"
                codes[code] = codes.get(code, 0) + 1
                await c.request(m.Leave(id=c.next_id(), room=room))
        return {"rounds": sum(codes.values()), "answers": dict(codes)}

    await under_attack(srv, "invite-leave loop", attack, rest=0.5, after=0.5)
    rounds = ROUNDS_PER_ATTACKER * len(ATTACKERS)
    assert codes == {"ok": 10, "too_many_invitations": rounds - 10}, codes
    # the victim is in no room, and can still create, join and be DMed
    rooms = await victim.request(m.ListRooms(id=victim.next_id()))
    assert [r.name for r in rooms.rooms if r.joined] == []
    await victim.request(m.CreateRoom(id=victim.next_id(), room="mine"))
    dm = await attackers[0].request(m.OpenDm(id=attackers[0].next_id(), user="victim"))
    assert dm.room.peer == "victim"
    pending = await victim.request(m.ListInvitations(id=victim.next_id()))
    assert len(pending.invitations) == 10
    assert {i.by for i in pending.invitations} == {"mallory"}
    # each arrived as an event, and declining clears the list
    ev = await victim.event(m.InvitationEvent)
    assert ev.invitation.by == "mallory" and ev.invitation.visibility == "private"
    for inv in pending.invitations:
        await victim.request(m.DeclineInvitation(id=victim.next_id(), room=inv.room))
    pending = await victim.request(m.ListInvitations(id=victim.next_id()))
    assert pending.invitations == []
    for c in (victim, *attackers):
        await c.close()


async def test_invitations_are_rated_per_inviter(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv", extra_toml="[limits]\nexempt_networks = []\n")
    mallory = await _client(srv, "mallory")
    targets = [await _client(srv, f"target{i}") for i in range(12)]
    await mallory.request(m.CreateRoom(id=mallory.next_id(), room="spam", visibility="private"))
    answers = []
    for i in range(len(targets)):
        reply = await mallory.request(
            m.Invite(id=mallory.next_id(), room="spam", user=f"target{i}"), check=False
        )
        answers.append(reply.params.get("limit") if isinstance(reply, m.Error) else "ok")
    # the default burst is 10, then one every 5 s
    assert answers == ["ok"] * 10 + ["invitation_rate"] * 2, answers
    for c in (mallory, *targets):
        await c.close()
