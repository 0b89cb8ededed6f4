"""What the dashboard needs from the composition root: read-only views of the queue, the
activity counts, the circuits and the tenant's emails, and the operator actions it offers
(redrive, suppressions, webhook endpoints, pausing and resuming a provider). Fields a store
lacks are None, and the page says the section is absent."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from postroom.ports.activity import ActivityLog
from postroom.ports.dead import DeadLetters
from postroom.ports.emails import EmailStatus
from postroom.ports.queue import QueueStats
from postroom.services.email_list import EmailList
from postroom.services.recipients import Recipients
from postroom.services.suppressions import SuppressionList
from postroom.services.webhook_endpoints import Endpoints


@dataclass(frozen=True, slots=True)
class ProviderState:
    name: str
    state: str  # closed, open, half_open (domain/circuit.py)
    failures: int  # consecutive failures the circuit has counted
    until: float  # open: closed to traffic until then; half_open: the probe's deadline


@dataclass(frozen=True, slots=True)
class Circuits:
    # Where the states come from: "worker" (this process's worker), "shared" (every worker's,
    # from the store), or "none" (this process runs no worker and the store shares none).
    source: str
    providers: list[ProviderState]


@dataclass
class DashboardParts:
    stats: Callable[[], Awaitable[QueueStats]]
    dead: DeadLetters
    # (services/operations.py) how many dead letters; redrive these ids; redrive them all.
    count_dead: Callable[[], Awaitable[int]]
    redrive_ids: Callable[[list[str]], Awaitable[int]]
    redrive_all: Callable[[], Awaitable[int]]
    circuits: Callable[[], Awaitable[Circuits]]
    activity: ActivityLog | None = None
    suppressions: SuppressionList | None = None
    # The bare address of a typed one, read as the intake reads a recipient; raises
    # AddressError.
    parse_address: Callable[[str], str] | None = None
    endpoints: Endpoints | None = None
    now: Callable[[], float] = time.time
    # The configured providers' names, and (services/pauses.py) which are paused, since when;
    # pause one (False: already paused; PauseError: not configured); resume one (False: was
    # not paused). None: the store keeps no pauses.
    providers: list[str] = field(default_factory=list)
    paused: Callable[[], Awaitable[dict[str, float]]] | None = None
    pause: Callable[[str], Awaitable[bool]] | None = None
    resume: Callable[[str], Awaitable[bool]] | None = None
    # The tenant's emails (services/email_list.py, as GET /api/v1/email); None: not listed.
    email_list: EmailList | None = None
    # One email's state and history (EmailStore.status), the tenant of the key that sent it
    # (None: a key no longer known),
    # and its recipients' stories (as GET /api/v1/email/{id}); None: no email detail.
    email_status: Callable[[str], Awaitable[EmailStatus | None]] | None = None
    email_tenant: Callable[[EmailStatus], Awaitable[str | None]] | None = None
    recipients: Recipients | None = None
