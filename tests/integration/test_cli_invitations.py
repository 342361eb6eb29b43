"""``tertulia invitations`` (list / accept / decline) and the client library's invitation API,
as a subprocess over real TLS (issue 12, item 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_cli import cli, conn_args, env  # noqa: F401  (env is a fixture)

from tertulia.client import Client, InvitationEvent, TrustPolicy
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, InProcessServer, RawClient


async def test_invitations_listed_accepted_and_declined_from_the_cli(
    tls_server: InProcessServer,
    raw_client_factory: Callable[..., Any],
    env: dict[str, str],  # noqa: F811
) -> None:
    ana: RawClient = await raw_client_factory("ana")
    bob = Client(
        tls_server.host,
        tls_server.port,
        "bob",
        PASSWORD,
        trust=TrustPolicy(fingerprint=tls_server.fingerprint),
    )
    await bob.register()
    await bob.start()
    events = bob.events()
    try:
        for room in ("plans", "party"):
            await ana.request(m.CreateRoom(id=ana.next_id(), room=room, visibility="private"))
            await ana.request(m.Invite(id=ana.next_id(), room=room, user="bob"))
        ev = await events.get(10)
        while not isinstance(ev, InvitationEvent):
            ev = await events.get(10)
        assert (ev.invitation.room, ev.invitation.by) == ("plans", "ana")
        assert [i.room for i in await bob.invitations()] == ["plans", "party"]
        assert [r.name for r in await bob.list_rooms() if r.joined] == []

        args = conn_args(tls_server, "bob")
        code, out, err = await cli("invitations", *args, env=env)
        assert code == 0, err
        assert out.splitlines() == ["plans (private) from ana", "party (private) from ana"]
        code, out, err = await cli("invitations", *args, "accept", "plans", env=env)
        assert (code, out.strip()) == (0, "joined plans"), err
        code, out, err = await cli("invitations", *args, "decline", "party", env=env)
        assert code == 0, err
        code, out, err = await cli("invitations", *args, "accept", "party", env=env)
        assert code == 1 and "room_not_found" in err, (out, err)
        assert await bob.invitations() == []
        assert [r.name for r in await bob.list_rooms() if r.joined] == ["plans"]
    finally:
        await bob.close()
