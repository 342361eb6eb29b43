"""A tiny Tertulia bot: answers "!ping" with "pong" and "!echo TEXT" with TEXT.

Run it against a server whose fingerprint you know::

    TERTULIA_PASSWORD=... python examples/echo_bot.py --server chat.example.org:7443 \
        --user echobot --fingerprint SHA256:AB:CD:... --room general --register

The password comes from ``$TERTULIA_PASSWORD``. ``--register`` creates the account first if it
does not exist yet. The bot reconnects by itself, answers every message exactly once (also
across restarts of the bot if you pass ``--state DIR``, which keeps its cursors and outbox),
and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from tertulia.client import Client, ClientError, Message, ServerError, TrustError, TrustPolicy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="localhost:7443", help="HOST:PORT")
    parser.add_argument("--user", default="echobot")
    parser.add_argument("--room", action="append", default=[], help="room to join (repeatable)")
    parser.add_argument("--fingerprint", help="the server certificate's SHA256 fingerprint")
    parser.add_argument("--tofu", action="store_true", help="trust on first use")
    parser.add_argument("--register", action="store_true", help="create the account if needed")
    parser.add_argument("--state", type=Path, help="directory for the cursor file and outbox")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    host, _, port = args.server.rpartition(":")
    client = Client(
        host.strip("[]") or "localhost",
        int(port),
        args.user,
        os.environ.get("TERTULIA_PASSWORD", ""),
        trust=TrustPolicy(fingerprint=args.fingerprint, tofu=args.tofu),
        rooms=args.room or ["general"],
        cursor_path=args.state / "cursors.json" if args.state else None,
        outbox_path=args.state / "outbox.jsonl" if args.state else None,
    )

    @client.on_message
    async def answer(msg: Message) -> None:
        if msg.sender == client.user:
            return  # our own messages come back too: never answer ourselves
        if msg.text.strip() == "!ping":
            await client.send(msg.room, "pong")
        elif msg.text.startswith("!echo "):
            await client.send(msg.room, msg.text.removeprefix("!echo "))

    try:
        if args.register:
            try:
                asyncio.run(client.register())
            except ServerError as exc:
                if exc.code != "name_taken":
                    raise
        print(f"{client.user} answering in {', '.join(args.room or ['general'])}", flush=True)
        client.run()  # until Ctrl-C / SIGTERM, or a fatal error such as a wrong password
    except (ClientError, TrustError, OSError) as exc:
        print(f"echo_bot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
