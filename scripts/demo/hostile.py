#!/usr/bin/env python3
"""A hostile client for the demo: raw sockets and TLS, no Tertulia code at all.

    python scripts/demo/hostile.py --port 7443 [--source 127.0.0.66] [--only NAME ...]

Each attack prints what it sent and exactly what the server answered (error codes from the
wire, or the connection being closed). Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import os
import socket
import ssl
import struct
import sys
import time

BOLD, RED, GREEN, YEL, DIM, END = (
    "\x1b[1m",
    "\x1b[1;31m",
    "\x1b[1;32m",
    "\x1b[1;33m",
    "\x1b[2m",
    "\x1b[0m",
)
TIMEOUT = 8.0


def say(text: str) -> None:
    print(text, flush=True)


class Conn:
    def __init__(self, host: str, port: int, source: str, tls: bool = True) -> None:
        raw = socket.create_connection((host, port), TIMEOUT, source_address=(source, 0))
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # an attacker does not care who it talks to
            self.sock: socket.socket = ctx.wrap_socket(raw, server_hostname=host)
        else:
            self.sock = raw
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.ids = 0

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, obj: dict[str, object]) -> None:
        body = json.dumps(obj).encode()
        self.send_raw(struct.pack(">I", len(body)) + body)

    def request(self, obj: dict[str, object]) -> dict[str, object] | None:
        self.ids += 1
        self.send({**obj, "id": self.ids})
        return self.read()

    def read(self) -> dict[str, object] | None:
        """The next frame as JSON, or None once the server closed the connection."""
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4 : 4 + n], self.buf[4 + n :]
                    return json.loads(body)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionError, ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def show(frame: dict[str, object] | None) -> str:
    if frame is None:
        return f"{RED}connection closed by the server{END}"
    kind = frame.get("type")
    if kind in ("error", "bye"):
        params = frame.get("params") or {}
        extra = f" {json.dumps(params)}" if params else ""
        return f"{RED}{kind} {frame.get('code')}{END}{extra}"
    return f"{GREEN}{kind}{END}"


def hello(c: Conn) -> None:
    c.request({"type": "hello", "versions": [1], "client": "evil/6.6.6"})


def closed_after(c: Conn) -> str:
    """Drain what the server still says until it closes (bounded)."""
    seen = []
    for _ in range(20):
        f = c.read()
        if f is None:
            break
        seen.append(show(f))
    return ", ".join([*seen, show(None)])


def attack_plaintext(a: argparse.Namespace) -> None:
    say(f"{BOLD}1. Plain HTTP at the TLS port{END}  {DIM}GET / HTTP/1.1{END}")
    c = Conn(a.host, a.port, a.source, tls=False)
    c.send_raw(b"GET / HTTP/1.1\r\nHost: chat\r\n\r\n")
    data = b""
    try:
        while len(data) < 4096:
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    c.close()
    answer = "nothing readable" if not data else f"{len(data)} bytes of TLS alert"
    say(f"   -> {RED}TLS handshake refused{END}, {answer}; {RED}connection closed{END}")


def attack_garbage(a: argparse.Namespace) -> None:
    junk = bytes([0x80 | os.urandom(1)[0]]) + os.urandom(63)  # high first byte: huge length
    say(f"{BOLD}2. Random bytes inside TLS{END}  {DIM}{junk[:12].hex(' ')} …{END}")
    c = Conn(a.host, a.port, a.source)
    c.send_raw(junk)
    say(f"   -> {show(c.read())}; {closed_after(c)}")
    c.close()


def attack_oversized(a: argparse.Namespace) -> None:
    say(f"{BOLD}3. Length header announcing a 4 GiB frame{END}  {DIM}ff ff ff ff{END}")
    c = Conn(a.host, a.port, a.source)
    hello(c)
    c.send_raw(b"\xff\xff\xff\xff")
    say(f"   -> {show(c.read())}; {closed_after(c)}")
    c.close()


def attack_malformed(a: argparse.Namespace) -> None:
    say(f"{BOLD}4. Malformed frames{END}  {DIM}not JSON, unknown type, no hello{END}")
    c = Conn(a.host, a.port, a.source)
    body = b"\x00\x01rm -rf /"
    c.send_raw(struct.pack(">I", len(body)) + body)
    r1 = show(c.read())
    c.send({"type": "launch_missiles", "id": 7})
    r2 = show(c.read())
    c.send({"type": "history", "id": 8, "room": "general"})
    r3 = show(c.read())
    say(f"   -> {r1} | {r2} | {r3}  {DIM}(each refused, connection kept){END}")
    c.close()


def attack_flood(a: argparse.Namespace) -> None:
    n = a.flood
    say(f"{BOLD}5. Request flood{END}  {DIM}{n} pings in one burst{END}")
    c = Conn(a.host, a.port, a.source)
    hello(c)
    frames = b"".join(
        struct.pack(">I", len(b)) + b
        for b in (json.dumps({"type": "ping", "id": i}).encode() for i in range(n))
    )
    start = time.monotonic()
    try:
        c.send_raw(frames)
    except OSError:
        pass
    counts: collections.Counter[str] = collections.Counter()
    last = None
    while time.monotonic() - start < 20:
        f = c.read()
        if f is None:
            counts["closed"] += 1
            break
        key = str(f.get("code") or f.get("type"))
        if f.get("type") == "bye":
            key = f"bye {f.get('code')}"
        counts[key] += 1
        last = f
    parts = [f"{GREEN}{counts.pop('pong', 0)} pong{END}"]
    parts += [f"{RED}{v} × {k}{END}" for k, v in counts.items() if k not in ("closed",)]  # noqa: RUF001
    say(f"   -> {', '.join(parts)}; {show(None) if 'closed' in counts else show(last)}")
    c.close()


def attack_connections(a: argparse.Namespace) -> None:
    n = a.connections
    say(f"{BOLD}6. Connection flood{END}  {DIM}{n} TLS connections from {a.source}{END}")
    held: list[Conn] = []
    refused: collections.Counter[str] = collections.Counter()
    for _ in range(n):
        try:
            c = Conn(a.host, a.port, a.source)
        except (OSError, ssl.SSLError):
            refused["closed"] += 1
            continue
        c.sock.settimeout(0.5)
        try:
            c.sock.setblocking(True)
            f = None
            c.sock.settimeout(0.3)
            f = c.read()
        except OSError:
            f = None
        c.sock.settimeout(TIMEOUT)
        if f is not None and f.get("type") == "bye":
            refused[f"bye {f.get('code')}"] += 1
            c.close()
        else:
            held.append(c)
    parts = [f"{GREEN}{len(held)} accepted{END}"] + [
        f"{RED}{v} × {k}{END}"  # noqa: RUF001
        for k, v in refused.items()
    ]
    say(f"   -> {', '.join(parts)}")
    for c in held:
        c.close()


def attack_passwords(a: argparse.Namespace) -> None:
    say(f"{BOLD}7. Password guessing{END}  {DIM}user 'admin', {a.guesses} guesses{END}")
    c = Conn(a.host, a.port, a.source)
    hello(c)
    codes: list[str] = []
    for i in range(a.guesses):
        f = c.request({"type": "login", "user": "admin", "password": f"hunter{i}"})
        codes.append(str(f.get("code") if f else "closed"))
        if f is None:
            break
    summary = collections.Counter(codes)
    say("   -> " + ", ".join(f"{RED}{v} × {k}{END}" for k, v in summary.items()))  # noqa: RUF001
    c.close()


ATTACKS = {
    "plaintext": attack_plaintext,
    "garbage": attack_garbage,
    "oversized": attack_oversized,
    "malformed": attack_malformed,
    "flood": attack_flood,
    "connections": attack_connections,
    "passwords": attack_passwords,
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.66", help="local loopback address to send from")
    p.add_argument("--only", nargs="*", choices=sorted(ATTACKS), help="run only these")
    p.add_argument("--flood", type=int, default=1000, help="pings in the request flood")
    p.add_argument("--connections", type=int, default=40, help="connections in the flood")
    p.add_argument("--guesses", type=int, default=8)
    p.add_argument("--pause", type=float, default=0.8, help="seconds between attacks")
    a = p.parse_args()
    for addr in (a.host, a.source):
        if not ipaddress.ip_address(addr).is_loopback:
            p.error(f"{addr} is not a loopback address: this script only attacks localhost")
    a.flood = min(a.flood, 5000)
    a.connections = min(a.connections, 200)
    a.guesses = min(a.guesses, 50)
    for name in a.only or list(ATTACKS):
        try:
            ATTACKS[name](a)
        except Exception as exc:
            say(f"   -> {YEL}{type(exc).__name__}: {exc}{END}")
        time.sleep(a.pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
