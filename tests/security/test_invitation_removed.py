"""A pending invitation that a ban or a closed room deletes is taken back from the invitee.

Storage drops the invitation when a moderator bans the invitee from the room or an admin
closes the room. Before, nobody told the invitee, so their connected clients (the desktop
client's invitation bar, the library's events) kept offering an invitation that no longer
existed and answered ``room_not_found`` on Accept. Now every connection of the invitee gets
``invitation_removed`` with reason ``banned`` or ``closed``; a banned user who held no
invitation gets none.
"""

from __future__ import annotations

from collections.abc import Callable

from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, RawClient, ServerProcess


async def _client(
    srv: ServerProcess, name: str, password: str = PASSWORD, *, register: bool = True
) -> RawClient:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login(name, password, register=register)
    return c


async def _invitation_news(c: RawClient) -> m.InvitationEvent | m.InvitationRemoved:
    """The next ``invitation`` or ``invitation_removed`` event, whichever comes first."""
    while True:
        ev = await c.event(object)
        if isinstance(ev, m.InvitationEvent | m.InvitationRemoved):
            return ev


async def _invite(inviter: RawClient, room: str, user: str, invitee: RawClient) -> None:
    await inviter.request(m.Invite(id=inviter.next_id(), room=room, user=user))
    ev = await _invitation_news(invitee)
    assert isinstance(ev, m.InvitationEvent) and ev.invitation.room == room, ev


async def test_ban_takes_back_the_pending_invitation(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv")
    ana = await _client(srv, "ana")
    bo = await _client(srv, "bo")
    cy = await _client(srv, "cy")
    for room in ("plans", "later"):
        await ana.request(m.CreateRoom(id=ana.next_id(), room=room, visibility="private"))
    await _invite(ana, "plans", "bo", bo)

    await ana.request(m.Ban(id=ana.next_id(), room="plans", user="bo"))
    ev = await _invitation_news(bo)
    assert ev == m.InvitationRemoved(room="plans", reason="banned"), ev
    pending = await bo.request(m.ListInvitations(id=bo.next_id()))
    assert pending.invitations == []

    # a ban of someone without an invitation says nothing about invitations: the next
    # invitation news cy gets is the marker invitation that follows the ban
    await ana.request(m.Ban(id=ana.next_id(), room="plans", user="cy"))
    await _invite(ana, "later", "cy", cy)
    for c in (ana, bo, cy):
        await c.close()


async def test_closing_a_room_takes_back_every_pending_invitation(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv")
    assert srv.admin_password is not None
    admin = await _client(srv, "admin", srv.admin_password, register=False)
    ana = await _client(srv, "ana")
    bo = await _client(srv, "bo")
    bo2 = await _client(srv, "bo", register=False)  # bo's second device
    cy = await _client(srv, "cy")
    await ana.request(m.CreateRoom(id=ana.next_id(), room="plans", visibility="private"))
    await _invite(ana, "plans", "bo", bo)
    assert isinstance(await _invitation_news(bo2), m.InvitationEvent)
    await _invite(ana, "plans", "cy", cy)

    await admin.request(m.CloseRoom(id=admin.next_id(), room="plans"))
    for c in (bo, bo2, cy):
        ev = await _invitation_news(c)
        assert ev == m.InvitationRemoved(room="plans", reason="closed"), ev
    removed = await ana.event(m.RoomRemoved, room="plans")  # the member is told as before
    assert removed.reason == "closed"
    for c in (admin, ana, bo, bo2, cy):
        await c.close()
