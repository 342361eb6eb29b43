"""The single-node bus: there are no other nodes, so publishing is a no-op."""

from __future__ import annotations

from collections.abc import Callable

from tertulia.server.bus.base import Bus, BusEvent

__all__ = ["LocalBus"]


class LocalBus(Bus):
    node_id = "local"

    async def start(
        self, on_event: Callable[[BusEvent], None], on_resync: Callable[[], None]
    ) -> None:
        return None

    def publish(self, event: BusEvent) -> None:
        return None

    async def close(self) -> None:
        return None
