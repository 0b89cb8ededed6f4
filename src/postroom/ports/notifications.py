"""New-email notifications: wake idle workers when any process stores an email (PostgreSQL
LISTEN/NOTIFY). Engines without them leave Storage.wake None; workers poll instead."""

from typing import Protocol


class Notifications(Protocol):
    # The port's signature: the worker passes its poll interval.
    async def wait_for_new(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return once an email was stored (by any process) since the last call returned, or
        after `timeout` seconds. Never raises for a lost connection: it only times out."""
        ...
