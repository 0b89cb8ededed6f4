"""What the API needs from the composition root, and nothing more."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from postroom.domain.limits import Verdict
from postroom.ports.emails import EmailStore
from postroom.ports.keys import ApiKey
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.queue import PutResult

Hook = Callable[[], Awaitable[None]]


@dataclass
class Container:
    submit: Callable[[Any, str | None, str], Awaitable[PutResult]]
    emails: EmailStore
    # Whether storage answers (the store, and the queue apart from it when there is one).
    ping: Hook
    max_body_bytes: int
    metrics: Metrics = field(default_factory=NullMetrics)
    # The Prometheus exposition, refreshed with queue stats; None serves no /metrics.
    render_metrics: Callable[[], Awaitable[bytes]] | None = None
    # The caller's key from an Authorization header; None runs without authentication.
    authenticate: Callable[[str | None], Awaitable[ApiKey | None]] | None = None
    # Seconds a client may take to send a request body (slow-client protection).
    body_timeout: float = 30.0
    # Takes one email from a key's sending budget; None sets no limits.
    limit: Callable[[str], Awaitable[Verdict]] | None = None
    # Opens event reasons sealed at rest; identity when no keys are configured.
    open_text: Callable[[str, str], str] = lambda text, email_id: text
    # Run when the server starts and stops (open storage, start a worker, close connections).
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
