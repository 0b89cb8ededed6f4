"""What the API needs from the composition root, and nothing more."""

import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from postroom.dashboard.parts import DashboardParts
from postroom.domain.errors import InvalidEmailError
from postroom.domain.limits import Verdict
from postroom.ports.emails import EmailStore
from postroom.ports.events import Recorded
from postroom.ports.inbound import Inbound, Received
from postroom.ports.keys import ApiKey
from postroom.ports.metrics import Metrics, NullMetrics
from postroom.ports.sessions import SessionStore
from postroom.services.email_list import EmailList
from postroom.services.feed import Feed
from postroom.services.recipients import Recipients
from postroom.services.submit import IdempotencyConflictError, Submitted
from postroom.services.suppressions import SuppressionList
from postroom.services.templates import Templates
from postroom.services.webhook_endpoints import Endpoints

Hook = Callable[[], Awaitable[None]]


@dataclass
class Container:
    # (request data, idempotency key, owner key id, tenant)
    submit: Callable[[Any, str | None, str, str], Awaitable[Submitted]]
    emails: EmailStore
    # Whether storage answers (the store, and the queue apart from it when there is one).
    ping: Hook
    max_body_bytes: int
    metrics: Metrics = field(default_factory=NullMetrics)
    # The Prometheus exposition, refreshed with queue stats; None serves no /metrics.
    render_metrics: Callable[[], Awaitable[bytes]] | None = None
    # The caller's key from an Authorization header; None runs without authentication.
    authenticate: Callable[[str | None], Awaitable[ApiKey | None]] | None = None
    # Where the inbox's and the dashboard's logins are kept; None: no login can be taken.
    sessions: SessionStore | None = None
    # Records a key's use (its last-used time) for a request a page session let in.
    note_use: Callable[[ApiKey], None] | None = None
    # Seconds a client may take to send a request body (slow-client protection).
    body_timeout: float = 30.0
    # Takes one email from a key's sending budget; None sets no limits.
    limit: Callable[[str], Awaitable[Verdict]] | None = None
    # Takes up to n emails at once (a batch), answering how many it gave; set beside `limit`.
    limit_many: Callable[[str, int], Awaitable[int]] | None = None
    # Opens event reasons sealed at rest; identity when no keys are configured.
    open_text: Callable[[str, str], str] = lambda text, email_id: text
    # Provider webhook endpoints by (kind, name), and where what they verified is recorded.
    inbound: dict[tuple[str, str], Inbound] = field(default_factory=dict)
    record_events: Callable[[str, Received], Awaitable[Recorded]] | None = None
    # Each recipient's events, the email's derived state and the template it was rendered
    # from, for the status API (called: reports and state; .story(): all three).
    recipients: Recipients | None = None
    suppressions: SuppressionList | None = None
    # A batch: (items, idempotency key, owner, tenant, indexes to leave out); None: no batches.
    submit_many: (
        Callable[
            [list[Any], str | None, str, str, Collection[int]],
            Awaitable[list[Submitted | InvalidEmailError | IdempotencyConflictError | None]],
        ]
        | None
    ) = None
    # The tenant's emails, paged and filtered (GET /api/v1/email); None: not available.
    email_list: EmailList | None = None
    # The tenant's templates (docs/templates.md); None: the store keeps none.
    templates: Templates | None = None
    # The bare address of a suppression entry, read as the intake reads a recipient; raises
    # AddressError. None: plain ASCII addresses only (the intake's fast path).
    parse_address: Callable[[str], str] | None = None
    # The tenant's webhook endpoints and events feed (docs/webhooks.md); None: not kept.
    endpoints: Endpoints | None = None
    feed: Feed | None = None
    # Told the id of an email just cancelled (its `cancelled` events); None: nobody is.
    on_cancelled: Callable[[str], Awaitable[None]] | None = None
    # The folder of the first `outbox://` provider, shown at /inbox; None: no /inbox.
    inbox_path: str | None = None
    # What the operator dashboard at /dashboard reads and acts on; None: no /dashboard.
    dashboard: DashboardParts | None = None
    now: Callable[[], float] = time.time
    # Run when the server starts and stops (open storage, start a worker, close connections).
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
