"""The events half of the composition root: provider webhooks in, the processor, the
suppression list, and the SES event queues the workers read (docs/events.md)."""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from postroom.bootstrap.webhooks import WebhooksRuntime, build_webhooks
from postroom.clocks.system import SystemClock
from postroom.domain.errors import ProviderDownError, StorageUnavailableError
from postroom.domain.events import ProviderEvent
from postroom.logs import RateLimitedLog, get_logger
from postroom.metrics.prometheus import PrometheusMetrics
from postroom.ports.inbound import Inbound, Received
from postroom.ports.provider import Provider
from postroom.ports.storage import Storage
from postroom.providers import webhooks as inbound_registry
from postroom.providers.outbox import OutboxProvider, Report
from postroom.services.addresses import UNKEYED, AddressKeys
from postroom.services.content import Content
from postroom.services.events import ProcessEvents, RecordEvents, TellCancelled
from postroom.services.suppressions import SuppressionList
from postroom.settings import Settings

if TYPE_CHECKING:
    from postroom.providers.webhooks.ses_queue import SesEventQueue

log = get_logger("events")

# Encryption at rest with the address hash unkeyed: then the hash protects nothing
# (docs/suppressions.md, "Storage").
UNKEYED_WARNING = (
    "POSTROOM_ENCRYPTION_KEYS is set but POSTROOM_ADDRESS_KEY is not: suppressions and events "
    "look addresses up by an unkeyed hash, which a copy of the database can be tested against"
)
# Pending events are looked for this often when nothing wakes the processor (another process
# recorded them: PostgreSQL with several API processes).
PROCESS_EVERY = 0.5
# A storage outage: the processor waits this long before it tries again.
OUTAGE_PAUSE = 1.0
# Seconds one SES event queue read waits for messages (SQS long polling; at most 20).
PULL_WAIT = 10.0


@dataclass
class EventsRuntime:
    record: RecordEvents
    suppressions: SuppressionList
    process: ProcessEvents
    # Webhook endpoints by (kind, name): /webhooks/{kind} and /webhooks/{kind}/{name}.
    inbound: dict[tuple[str, str], Inbound] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # SES event queues the workers read (`events_queue=`), with the provider name of each.
    pulls: list[tuple[str, "SesEventQueue"]] = field(default_factory=list)
    # Webhooks out and the events feed; None when the store keeps none.
    webhooks: WebhooksRuntime | None = None
    # The email just cancelled gets its `cancelled` events.
    cancelled: TellCancelled | None = None
    # The keyed address hash of the suppression list, which intake also keys recipients by.
    keys: AddressKeys | None = None

    async def close(self) -> None:
        """Idempotent: the API and a worker in the same process share one runtime."""
        endpoints, self.inbound = list(self.inbound.values()), {}
        pulls, self.pulls = self.pulls, []
        for _, queue in pulls:
            await queue.close()
        for endpoint in endpoints:
            await endpoint.close()
        webhooks, self.webhooks = self.webhooks, None
        if webhooks is not None:
            await webhooks.close()


def build_events(
    settings: Settings, storage: Storage, content: Content, metrics: PrometheusMetrics
) -> EventsRuntime | None:
    """None when the store keeps no events (every store does; a bare queue does not)."""
    if storage.events is None or storage.suppressions is None:
        return None
    clock = SystemClock()
    if settings.encryption_keys and not settings.address_key:
        log.warning("addresses.unkeyed_hash", extra={"fields": {"warning": UNKEYED_WARNING}})
    keys = AddressKeys(content, settings.address_key.encode() or UNKEYED)
    wake = asyncio.Event()
    # Set when feed items were written here: Postroom's own events are recorded matched
    # (straight to the feed), a provider's reach it once processed (process_events).
    feed_written = asyncio.Event()
    record = RecordEvents(
        storage.events,
        keys,
        clock,
        on_recorded=wake.set,
        on_fed=feed_written.set,
        acks=storage.recording_acks,
    )
    suppressions = SuppressionList(storage.suppressions, keys, clock)
    process = ProcessEvents(
        storage.events, storage.emails, suppressions, keys, content, clock, metrics
    )
    runtime = EventsRuntime(record, suppressions, process, wake=wake, keys=keys)
    runtime.webhooks = build_webhooks(settings, storage, content, metrics, feed_written)
    runtime.cancelled = TellCancelled(record, storage.emails, content)
    runtime.inbound = open_inbound(settings)
    runtime.pulls = open_pulls(settings, runtime.inbound)
    return runtime


def open_pulls(
    settings: Settings, inbound: dict[tuple[str, str], Inbound]
) -> list[tuple[str, "SesEventQueue"]]:
    """An SES event queue for each SES provider URL with `events_queue=`."""
    pulls = []
    for url in settings.providers:
        if not url.lower().startswith("ses://") or "events_queue=" not in url:
            continue
        # Imported only here: aiobotocore comes with postroom[ses].
        from postroom.providers.webhooks.ses import SesInbound
        from postroom.providers.webhooks.ses_queue import SesEventQueue

        endpoint = inbound.get(("ses", inbound_registry.provider_name(url)))
        assert isinstance(endpoint, SesInbound)
        pulls.append((endpoint.name, SesEventQueue.from_url(url, endpoint)))
    return pulls


def report_outbox_events(providers: Sequence[Provider], runtime: EventsRuntime) -> None:
    """Outbox providers record their magic recipients' events as webhooks would."""
    for provider in providers:
        if isinstance(provider, OutboxProvider):
            provider.report_to(_recorder(runtime.record, provider.name))


def _recorder(record: RecordEvents, name: str) -> Report:
    async def report(events: list[ProviderEvent]) -> None:
        await record(name, Received(events))

    return report


def open_inbound(settings: Settings) -> dict[tuple[str, str], Inbound]:
    found: dict[tuple[str, str], Inbound] = {}
    for url in settings.providers:
        endpoint = inbound_registry.open_inbound(url)
        if endpoint is not None:
            found[(endpoint.kind, endpoint.name)] = endpoint
    return found


async def process_events(
    runtime: EventsRuntime, stop: asyncio.Event, every: float = PROCESS_EVERY
) -> None:
    """Match pending events while the worker runs: at once when this process recorded some,
    else every `every` seconds."""
    rarely = RateLimitedLog()
    while not stop.is_set():
        runtime.wake.clear()
        try:
            taken = await runtime.process()
        except StorageUnavailableError as error:
            rarely(log, "events.storage_unavailable", error=type(error).__name__)
            await _pause(stop, OUTAGE_PAUSE)
            continue
        if taken:
            if runtime.webhooks is not None:
                runtime.webhooks.wake.set()  # matched events went to the feed
            continue
        await _first(stop, runtime.wake, every)


async def pull_events(
    runtime: EventsRuntime, name: str, queue: "SesEventQueue", stop: asyncio.Event
) -> None:
    """Read one SES event queue while the worker runs: record, then delete, so a crash between
    the two records the events again (stored once) rather than losing them."""
    rarely = RateLimitedLog()
    while not stop.is_set():
        try:
            taken = await queue.take(10, PULL_WAIT)
            for _, received in taken:
                await runtime.record(name, received)
            if taken:
                await queue.done([handle for handle, _ in taken])
        except (StorageUnavailableError, ProviderDownError) as error:
            rarely(log, "events.pull_failed", provider=name, error=type(error).__name__)
            await _pause(stop, OUTAGE_PAUSE)


def event_tasks(runtime: EventsRuntime, stop: asyncio.Event) -> list["asyncio.Task[None]"]:
    """Everything a worker runs for events beside delivery."""
    tasks = [asyncio.create_task(process_events(runtime, stop))]
    if runtime.webhooks is not None:
        hooks = runtime.webhooks
        tasks.append(asyncio.create_task(hooks.dispatch.run(stop, hooks.wake)))
    for name, queue in runtime.pulls:
        tasks.append(asyncio.create_task(pull_events(runtime, name, queue, stop)))
    return tasks


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _first(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    """Return when `stop` or `wake` is set, or after `seconds`."""
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    provider: str
    url: str
    # The URL options the endpoint still needs before it accepts anything ("" when none).
    missing: str


def webhook_urls(settings: Settings, base: str) -> list[WebhookUrl]:
    """Where each configured provider should post its events, for `postroom webhooks urls`."""
    found = []
    for url in settings.providers:
        kind = url.partition("://")[0].lower()
        name = inbound_registry.provider_name(url)
        if kind not in inbound_registry.INBOUND_KINDS:
            continue
        path = f"/webhooks/{kind}" if name == kind else f"/webhooks/{kind}/{name}"
        missing = inbound_registry.missing_secrets(url)
        found.append(WebhookUrl(name, base.rstrip("/") + path, ", ".join(missing)))
    return found


def open_suppressions(settings: Settings) -> tuple[SuppressionList, Storage]:
    """The suppression list over the configured storage, for operator commands: addresses
    keyed and sealed as the server keys and seals them. The caller closes the storage."""
    # Imported here: the package imports this module.
    from postroom.bootstrap import ConfigError, open_cipher, open_storage

    storage = open_storage(settings)
    if storage.suppressions is None:  # every store keeps one; a new engine might not yet
        raise ConfigError("POSTROOM_DATABASE_URL: this storage keeps no suppression list")
    keys = AddressKeys(Content(open_cipher(settings)), settings.address_key.encode() or UNKEYED)
    return SuppressionList(storage.suppressions, keys, SystemClock()), storage


def parse_listed_address(text: str) -> str:
    """The bare address of a suppression entry, read as the intake reads a recipient (the
    fast path, then email-validator); AddressError when refused, or when it has a display name
    (an entry is an address, not a mailbox's label)."""
    from postroom.addresses.validator import parse_with_email_validator
    from postroom.domain.address import AddressError, parse_address

    found = parse_address(text, parse_with_email_validator)
    if found.name:
        raise AddressError("a bare address, without a display name")
    return found.email
