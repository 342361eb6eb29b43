"""A minimal HTTP/1.1 listener for health checks and Prometheus metrics.

Three read-only pages, ``GET`` only, one request per connection (``Connection: close``):

* ``/healthz`` -- 200 while the process serves its event loop (liveness: restart it if not);
* ``/readyz`` -- 200 when the store answers a query (and, in a cluster, Redis is connected),
  503 otherwise, so a load balancer stops sending new clients to a node that cannot work;
* ``/metrics`` -- the Prometheus text format (see :mod:`tertulia.server.metrics`).

A full HTTP framework would be the largest dependency of the server for three fixed pages; this
reads one bounded request head with a timeout and answers. There is no authentication, hence
the loopback default (``[http] host``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["HttpListener", "Page"]

log = logging.getLogger("tertulia.server.http")

#: ``(status, content type, body)``
Page = tuple[int, str, str]
Handler = Callable[[], Awaitable[Page]]

_MAX_HEAD = 8192
_TIMEOUT = 5.0
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HttpListener:
    """Serves ``routes`` (path -> coroutine returning a :data:`Page`) on ``host:port``."""

    def __init__(self, host: str, port: int, routes: dict[str, Handler]) -> None:
        self.host = host
        self.port = port
        self.routes = routes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, reuse_address=True, limit=_MAX_HEAD
        )
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                return
            method, target = parts[0], parts[1].split("?", 1)[0]
            handler = self.routes.get(target)
            if handler is None:
                page: Page = (404, "text/plain", "not found\n")
            elif method not in ("GET", "HEAD"):
                page = (405, "text/plain", "GET only\n")
            else:
                page = await asyncio.wait_for(handler(), _TIMEOUT)
            status, ctype, body = page
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
                f"Content-Type: {ctype}; charset=utf-8\r\nContent-Length: {len(data)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode()
                + (b"" if method == "HEAD" else data)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except (ConnectionError, OSError):
            pass
        except Exception:  # pragma: no cover - a page bug must not kill the listener
            log.exception("HTTP request failed")
        finally:
            writer.close()
