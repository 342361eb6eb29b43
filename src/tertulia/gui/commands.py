"""The composer's slash commands, parsed without side effects (the store carries them out).

``/join ROOM``, ``/leave [ROOM]``, ``/me ACTION``, ``/msg USER [TEXT]``, ``/topic TEXT``,
``/help``. ``//text`` sends ``/text`` literally; an unknown ``/word`` is an error, not a
message (a typo such as ``/jion`` must not be broadcast to the room).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COMMANDS", "Command", "is_message", "parse"]

#: name -> usage, for /help and errors
COMMANDS = {
    "join": "/join ROOM",
    "leave": "/leave [ROOM]",
    "me": "/me ACTION",
    "msg": "/msg USER [TEXT]",
    "topic": "/topic TEXT",
    "help": "/help",
}


@dataclass(frozen=True)
class Command:
    """What the composer's text means. ``name`` is ``"say"`` for a plain message, ``"error"``
    for a malformed command (``arg`` holds the usage or the unknown word)."""

    name: str
    arg: str = ""
    text: str = ""


def parse(raw: str) -> Command | None:
    """None for blank input; otherwise the command to run."""
    text = raw.strip("\n")
    if not text.strip():
        return None
    if text.startswith("//"):
        return Command("say", text=text[1:])
    if not text.startswith("/"):
        return Command("say", text=text)
    head, _, rest = text[1:].partition(" ")
    name = head.lower().strip()
    rest = rest.strip()
    if name not in COMMANDS:
        return Command("error", arg=name)
    if name == "join":
        if not rest or " " in rest:
            return Command("error", arg=COMMANDS["join"])
        return Command("join", arg=rest.lstrip("#"))
    if name == "leave":
        return Command("leave", arg=rest.lstrip("#"))
    if name == "me":
        if not rest:
            return Command("error", arg=COMMANDS["me"])
        return Command("me", text=rest)
    if name == "msg":
        user, _, body = rest.partition(" ")
        if not user:
            return Command("error", arg=COMMANDS["msg"])
        return Command("msg", arg=user.lstrip("@"), text=body.strip())
    if name == "topic":
        return Command("topic", text=rest)
    return Command("help")


def is_message(draft: str) -> bool:
    """Whether ``draft`` (the composer's text so far) is on its way to the room: plain text,
    ``//text`` or ``/me ...``. A slash command (``/msg bob``, ``/join big``, a half-typed
    ``/jo``) is not, so it must not make the room see "ana is typing"."""
    cmd = parse(draft)
    return cmd is not None and cmd.name in ("say", "me")
