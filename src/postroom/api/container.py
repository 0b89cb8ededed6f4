"""What the API needs from the composition root, and nothing more."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from postroom.ports.queue import PutResult, Queue
from postroom.ports.store import Store

Hook = Callable[[], Awaitable[None]]


@dataclass
class Container:
    submit: Callable[[Any, str | None], Awaitable[PutResult]]
    store: Store
    queue: Queue
    max_body_bytes: int
    # Run when the server starts and stops (open storage, start a worker, close connections).
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
