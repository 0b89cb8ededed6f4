"""The composition root: the one place where settings become adapters and services."""

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

from postroom.addresses.validator import parse_with_email_validator
from postroom.api.app import create_app
from postroom.api.container import Container
from postroom.api.intake import IntakeRoute
from postroom.bootstrap.dashboard import dashboard_parts
from postroom.bootstrap.events import (
    EventsRuntime,
    build_events,
    event_tasks,
    parse_listed_address,
    report_outbox_events,
)
from postroom.bootstrap.heap import settle_heap
from postroom.bootstrap.opening import (
    ConfigError,
    StorageStartError,
    check_settings,
    check_storage,
    open_cipher,
    open_providers,
    open_storage,
    open_templates,
    prepare_start,
    probe_providers,
)
from postroom.ciphers.aesgcm import new_key_entry
from postroom.clocks.system import SystemClock
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.retry import RetryPolicy
from postroom.logs import get_logger
from postroom.metrics.prometheus import PrometheusMetrics, serve_metrics
from postroom.ports.provider import Provider
from postroom.ports.storage import Storage
from postroom.providers.outbox import OutboxProvider
from postroom.services.auth import Authenticator
from postroom.services.content import Content
from postroom.services.deliver import DeliverEmail
from postroom.services.email_list import EmailList
from postroom.services.health import LocalHealth
from postroom.services.limits import SendingLimits
from postroom.services.operations import OperationError
from postroom.services.pauses import PauseWatch
from postroom.services.recipients import Recipients
from postroom.services.shared_health import SharedHealth
from postroom.services.submit import SubmitEmail
from postroom.services.templates import Templates
from postroom.settings import Settings
from postroom.worker.loop import Worker

if TYPE_CHECKING:
    from postroom.storage.sqs.client import CreatedQueues

# What the CLI and the other halves of the composition root use.
__all__ = [
    "ConfigError",
    "StorageStartError",
    "build_app",
    "check_settings",
    "check_storage",
    "create_sqs_queues",
    "new_encryption_key",
    "open_cipher",
    "open_storage",
    "open_templates",
    "prepare_start",
    "probe_providers",
    "provider_names",
    "retention_cutoff",
    "run_smtp_intake",
    "run_worker",
]

log = get_logger("bootstrap")


@dataclass
class WorkerRuntime:
    worker: Worker
    storage: Storage
    providers: list[Provider]
    metrics: PrometheusMetrics
    settings: Settings
    health: LocalHealth
    events: EventsRuntime | None = None
    pauses: PauseWatch | None = None

    async def refresh_metrics(self) -> bytes:
        self.metrics.queue(await self.storage.queue.stats(), self.worker.in_flight)
        return self.metrics.render()

    async def close(self) -> None:
        """Before storage closes: shared health writes its last changes through it."""
        await self.health.close()
        for provider in self.providers:
            await provider.close()
        if self.events is not None:
            await self.events.close()


def build_worker(
    settings: Settings,
    storage: Storage,
    metrics: PrometheusMetrics,
    events: EventsRuntime | None = None,
) -> WorkerRuntime:
    providers = open_providers(settings)
    if events is not None:
        report_outbox_events(providers, events)
    names = [_unique_name(p.name, i, providers) for i, p in enumerate(providers)]
    health = open_health(storage, names, metrics)
    pauses = open_pauses(storage, names, health, metrics)
    deliver = DeliverEmail(
        storage.queue,
        providers,
        SystemClock(),
        content=Content(open_cipher(settings)),
        health=health,
        policy=RetryPolicy(max_attempts=settings.max_attempts),
        metrics=metrics,
        suppressions=events.suppressions if events else None,
        events=events.record if events else None,
        pauses=pauses,
    )
    worker = Worker(
        storage.queue,
        deliver,
        settings.concurrency,
        settings.visibility_timeout,
        wake=storage.wake,
        hold=pauses.every_paused if pauses is not None else None,
    )
    return WorkerRuntime(worker, storage, providers, metrics, settings, health, events, pauses)


def open_health(storage: Storage, names: list[str], metrics: PrometheusMetrics) -> LocalHealth:
    """With a store that shares circuits (PostgreSQL), every worker knows within a second of
    an outage one worker saw; otherwise circuits are kept in this process."""
    if storage.circuits is None:
        return LocalHealth(names, metrics=metrics)
    return SharedHealth(names, storage.circuits, SystemClock(), metrics=metrics)


def open_pauses(
    storage: Storage, names: list[str], health: LocalHealth, metrics: PrometheusMetrics
) -> PauseWatch | None:
    """Operator pauses, read from the store by every worker on it (services/pauses.py)."""
    if storage.pauses is None:
        return None
    return PauseWatch(names, storage.pauses, lambda i: health.circuits()[i].state.value, metrics)


def provider_names(settings: Settings) -> list[str]:
    """The configured providers' names, as workers and metrics call them (nothing is sent:
    a provider opens its connections on first use)."""
    providers = open_providers(settings)
    return [_unique_name(p.name, i, providers) for i, p in enumerate(providers)]


def _unique_name(name: str, index: int, providers: list[Provider]) -> str:
    """Two providers of one kind (two SMTP relays) get numbered names in metrics."""
    same = [p for p in providers if p.name == name]
    return name if len(same) == 1 else f"{name}-{same.index(providers[index]) + 1}"


def build_app(settings: Settings, with_worker: bool) -> IntakeRoute:
    """The API; with `with_worker`, a delivery worker runs in the same event loop."""
    storage = open_storage(settings)
    metrics = PrometheusMetrics()
    content = Content(open_cipher(settings))
    events = build_events(settings, storage, content, metrics)
    runtime = build_worker(settings, storage, metrics, events) if with_worker else None
    wake = runtime.worker.wake if runtime else None
    templates = Templates(storage.templates, SystemClock()) if storage.templates else None
    submit = SubmitEmail(
        storage.queue,
        SystemClock(),
        parse_with_email_validator,
        cipher=content.cipher,
        on_stored=wake,
        suppressions=events.suppressions if events else None,
        templates=templates,
        addresses=events.keys if events else None,
    )
    container = Container(submit, storage.emails, storage.ping, settings.max_body_bytes, metrics)
    container.body_timeout = settings.body_timeout
    container.open_text = content.open_text
    container.templates = templates
    container.submit_many = submit.many
    container.inbox_path = inbox_path(settings)
    if events is not None:
        _attach_events(container, events, storage, content)
    if events is not None and events.keys is not None:
        container.email_list = EmailList(storage.emails, events.keys)
    _attach_auth(container, settings, storage)
    if runtime is not None:
        container.render_metrics = runtime.refresh_metrics
        _attach_worker(container, runtime)
    else:
        container.render_metrics = _api_metrics(storage, metrics)
    names = runtime.health.names if runtime else provider_names(settings)
    health = runtime.health if runtime else None
    container.dashboard = dashboard_parts(storage, health, container, names)
    container.on_shutdown.append(storage.close)
    # `serve` only: `api` processes share one port, and `postroom smtp` runs the SMTP intake alone.
    if with_worker and (settings.smtp_port or settings.smtp_tls_port):
        from postroom.bootstrap.smtp import attach_smtp  # aiosmtpd: postroom[smtp]

        attach_smtp(container, settings)
    return create_app(container)


async def run_smtp_intake(settings: Settings) -> None:
    """`postroom smtp`: the SMTP intake over the API's intake parts, without HTTP or a worker."""
    from postroom.bootstrap.smtp import run_smtp  # aiosmtpd: postroom[smtp]

    await run_smtp(build_app(settings, with_worker=False).container, settings)


def _attach_events(
    container: Container, events: EventsRuntime, storage: Storage, content: Content
) -> None:
    assert storage.events is not None
    container.inbound = events.inbound
    container.record_events = events.record
    container.suppressions = events.suppressions
    container.parse_address = parse_listed_address
    container.recipients = Recipients(storage.events, storage.emails, content)
    if events.webhooks is not None:
        container.endpoints = events.webhooks.endpoints
        container.feed = events.webhooks.feed
    if events.cancelled is not None:
        container.on_cancelled = events.cancelled
    container.on_shutdown.append(events.close)


_NO_AUTH_WARNING = "authentication is off: anyone who reaches this port can send email"


def _attach_auth(container: Container, settings: Settings, storage: Storage) -> None:
    if settings.insecure_no_auth:

        async def warn() -> None:
            log.warning("auth.disabled", extra={"fields": {"warning": _NO_AUTH_WARNING}})

        container.on_startup.append(warn)
        return
    authenticator = Authenticator(storage.keys, SystemClock())
    container.authenticate = authenticator.authenticate
    container.sessions = storage.sessions
    container.note_use = authenticator.note_use
    if settings.rate_limit or settings.daily_quota:
        limits = SendingLimits(
            settings.rate_limit, settings.daily_quota, SystemClock(), storage.emails.count_since
        )
        container.limit = limits.check
        container.limit_many = limits.check_many
    container.on_shutdown.append(authenticator.flush)


def inbox_path(settings: Settings) -> str | None:
    """The folder of the first `outbox://` provider, which /inbox shows; None without one."""
    for url in settings.providers:
        if url.partition("://")[0].lower() == "outbox":
            return str(OutboxProvider.from_url(url).folder)
    return None


def _api_metrics(storage: Storage, metrics: PrometheusMetrics):  # type: ignore[no-untyped-def]
    async def render() -> bytes:
        metrics.queue(await storage.queue.stats(), 0)
        return metrics.render()

    return render


def _attach_worker(container: Container, runtime: WorkerRuntime) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(runtime.worker.run(stop)))
        tasks.append(
            asyncio.create_task(purge_periodically(runtime.storage, runtime.settings, stop))
        )
        if runtime.events is not None:
            tasks.extend(event_tasks(runtime.events, stop))

    async def finish() -> None:
        stop.set()
        await asyncio.gather(*tasks)
        await runtime.close()

    container.on_startup.append(start)
    container.on_shutdown.append(finish)


PURGE_EVERY = 3600.0


async def purge_periodically(storage: Storage, settings: Settings, stop: asyncio.Event) -> None:
    """Apply the retention period once an hour while a worker runs."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            cutoff = retention_cutoff(settings)
            purged = await storage.sealed.purge_content(cutoff)
            if purged:
                log.info("retention.purged", extra={"fields": {"emails": purged}})
            if storage.events is not None:
                await storage.events.purge_events(cutoff)
            if storage.webhooks is not None:
                await storage.webhooks.purge_webhooks(cutoff)
            if storage.sessions is not None:  # expired logins, whatever the retention
                await storage.sessions.purge_sessions(SystemClock().now())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)


async def refresh_periodically(
    runtime: WorkerRuntime, stop: asyncio.Event, every: float = 5.0
) -> None:
    """Keep a worker-only process's queue gauges current for its /metrics port."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            await runtime.refresh_metrics()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def retention_cutoff(settings: Settings) -> float:
    """Content of emails that ended before this time is past the retention period."""
    return SystemClock().now() - settings.retention_days * 86400


def new_encryption_key() -> str:
    """A fresh `ID:BASE64KEY` entry for POSTROOM_ENCRYPTION_KEYS."""
    return str(new_key_entry())


async def run_worker(settings: Settings) -> None:
    """A worker-only process: deliver until SIGTERM or SIGINT, with the retention purge and,
    with POSTROOM_METRICS_PORT, Prometheus metrics on their own port."""
    storage = open_storage(settings)
    metrics = PrometheusMetrics()
    events = build_events(settings, storage, Content(open_cipher(settings)), metrics)
    runtime = build_worker(settings, storage, metrics, events)
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background = [asyncio.create_task(purge_periodically(storage, settings, stop))]
    if events is not None:
        background.extend(event_tasks(events, stop))
    if settings.metrics_port:
        serve_metrics(runtime.metrics, settings.host, settings.metrics_port)
        background.append(asyncio.create_task(refresh_periodically(runtime, stop)))
    try:
        await runtime.worker.run(stop)
    finally:
        await asyncio.gather(*background)
        await runtime.close()
        await storage.close()


async def create_sqs_queues(settings: Settings, max_receives: int) -> "CreatedQueues":
    """Create the SQS queue of POSTROOM_QUEUE_URL and its dead-letter queue (idempotent)."""
    # Imported only here: aiobotocore is installed only with postroom[sqs].
    from postroom.storage.sqs.client import create_queues, parse_url

    try:
        return await create_queues(
            parse_url(settings.queue_url), settings.visibility_timeout, max_receives
        )
    except (ValueError, StorageUnavailableError) as error:
        raise OperationError(f"cannot create the queues: {error}") from None
