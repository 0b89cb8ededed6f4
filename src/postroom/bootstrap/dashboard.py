"""The dashboard's half of the composition root: its parts, from the storage, the worker's
circuits when this process runs one, and what the API's container already holds."""

from functools import partial

from postroom.api.container import Container
from postroom.dashboard import Circuits, DashboardParts, ProviderState
from postroom.domain.circuit import Circuit
from postroom.domain.keys import DEFAULT_TENANT
from postroom.ports.emails import EmailStatus
from postroom.ports.storage import Storage
from postroom.services import operations, pauses
from postroom.services.health import LocalHealth


def dashboard_parts(
    storage: Storage, health: LocalHealth | None, container: Container, names: list[str]
) -> DashboardParts:
    """Built after the container's events and suppressions are attached; `names` are the
    configured providers'."""
    parts = DashboardParts(
        stats=storage.queue.stats,
        dead=storage.dead,
        count_dead=partial(operations.count_dead, storage),
        redrive_ids=partial(operations.redrive_ids, storage),
        redrive_all=partial(operations.redrive_all, storage),
        circuits=partial(circuits, storage, health),
        activity=storage.activity,
        suppressions=container.suppressions,
        parse_address=container.parse_address,
        endpoints=container.endpoints,
        now=container.now,
        providers=names,
        email_list=container.email_list,
        email_status=storage.emails.status,
        email_tenant=partial(sender_tenant, storage),
        recipients=container.recipients,
    )
    if storage.pauses is not None:
        store = storage.pauses
        parts.paused = store.paused
        parts.pause = lambda name: pauses.pause(store, names, name, container.now())
        parts.resume = partial(pauses.resume, store)
    return parts


async def sender_tenant(storage: Storage, status: EmailStatus) -> str | None:
    """The tenant of the key that sent the email (the default one without keys); None when the
    key is not in the store. Revoked keys stay listed, so their emails stay theirs."""
    if not status.owner:
        return DEFAULT_TENANT
    found = [key.tenant for key in await storage.keys.list_keys() if key.id == status.owner]
    return found[0] if found else None


async def circuits(storage: Storage, health: LocalHealth | None) -> Circuits:
    """This process's worker's circuits (kept in step with every worker's by SharedHealth on
    PostgreSQL); without a worker, the ones the store shares; else none to show."""
    source = "shared" if storage.circuits is not None else "worker"
    if health is not None:
        pairs = list(zip(health.names, health.circuits(), strict=True))
        return Circuits(source, [_state(name, circuit) for name, circuit in pairs])
    if storage.circuits is None:
        return Circuits("none", [])
    stored = await storage.circuits.load()
    return Circuits("shared", [_state(n, r.circuit) for n, r in sorted(stored.items())])


def _state(name: str, circuit: Circuit) -> ProviderState:
    return ProviderState(name, circuit.state.value, circuit.failures, circuit.until)
