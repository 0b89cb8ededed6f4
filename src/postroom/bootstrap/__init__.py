"""The composition root: the one place where settings become adapters and services."""

import asyncio
import contextlib
import os
import signal
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from postroom import providers as provider_registry
from postroom import storage as engines
from postroom._lazy import load_class
from postroom.addresses.validator import parse_with_email_validator
from postroom.api.app import create_app
from postroom.api.container import Container
from postroom.api.intake import IntakeRoute
from postroom.bootstrap.events import (
    EventsRuntime,
    build_events,
    event_tasks,
    parse_listed_address,
    report_outbox_events,
)
from postroom.ciphers.aesgcm import AesGcmCipher, new_key_entry, parse_keys
from postroom.clocks.system import SystemClock
from postroom.domain.errors import CipherError, StorageFullError, StorageUnavailableError
from postroom.domain.retry import RetryPolicy
from postroom.logs import get_logger
from postroom.metrics.prometheus import PrometheusMetrics, serve_metrics
from postroom.ports.cipher import Cipher
from postroom.ports.provider import Probe, Provider
from postroom.ports.storage import Storage
from postroom.services.auth import Authenticator
from postroom.services.content import Content, NoCipher
from postroom.services.deliver import DeliverEmail
from postroom.services.health import LocalHealth
from postroom.services.limits import SendingLimits
from postroom.services.operations import OperationError, create_key
from postroom.services.recipients import Recipients
from postroom.services.shared_health import SharedHealth
from postroom.services.submit import SubmitEmail
from postroom.services.templates import Templates
from postroom.settings import Settings
from postroom.worker.loop import Worker

if TYPE_CHECKING:
    from postroom.storage.sqs.client import CreatedQueues

log = get_logger("bootstrap")


class ConfigError(ValueError):
    """A setting is well-formed but cannot be used; one line naming the variable."""


def check_settings(settings: Settings) -> None:
    """Each URL and key against the adapter that will open it, before anything is opened:
    ConfigError naming the variable."""
    for env, url, check in (
        ("POSTROOM_DATABASE_URL", settings.database_url, engines.check_url),
        ("POSTROOM_QUEUE_URL", settings.queue_url, engines.check_queue_url),
    ):
        if url:
            try:
                check(url)
            except engines.StorageConfigError as error:
                raise ConfigError(f"{env}: {error}") from None
    if settings.encryption_keys:
        try:
            parse_keys(settings.encryption_keys)
        except ValueError as error:
            raise ConfigError(f"POSTROOM_ENCRYPTION_KEYS: {error}") from None
    for url in settings.providers:
        try:
            provider_registry.check_url(url)
        except provider_registry.ProviderConfigError as error:
            raise ConfigError(f"POSTROOM_PROVIDERS: {error}") from None
    if settings.smtp_port or settings.smtp_tls_port:
        try:
            load_class("postroom.bootstrap.smtp:attach_smtp", "smtp")  # aiosmtpd is an extra
        except ImportError as error:
            raise ConfigError(f"POSTROOM_SMTP_PORT: {error}") from None


def open_storage(settings: Settings) -> Storage:
    """The store at POSTROOM_DATABASE_URL, and the queue apart from it when there is one."""
    try:
        store = engines.open_storage(settings.database_url, SystemClock())
    except engines.StorageConfigError as error:
        raise ConfigError(f"POSTROOM_DATABASE_URL: {error}") from None
    if not settings.queue_url or settings.queue_url == settings.database_url:
        return store
    if engines.scheme_of(settings.queue_url) not in engines.QUEUES:
        raise ConfigError(
            "POSTROOM_QUEUE_URL: a database as the queue must be POSTROOM_DATABASE_URL itself"
        )
    try:
        return engines.open_queue(settings.queue_url, store, SystemClock())
    except engines.StorageConfigError as error:
        raise ConfigError(f"POSTROOM_QUEUE_URL: {error}") from None


class StorageStartError(Exception):
    """Storage cannot work at start-up: one line naming the variable, the file or host:port,
    and the cause. Start-up stops (exit 1); an outage after start is a 503 instead."""


async def check_storage(
    settings: Settings, storage: Storage, queue: bool = True, starting: bool = False
) -> None:
    """Prove the store works before anything is created in it: StorageStartError if not. With
    `queue`, a queue apart from it (SQS) must answer too; start-up leaves that out, so an API
    can run before `postroom sqs create-queues` (it answers 503 until the queue exists). A
    store full to its size cap is a StorageStartError for `postroom check`, but `starting`
    goes on: a full store still delivers, and /readyz says "full"."""
    path = storage.file
    if path is not None and (problem := _sqlite_problem(path)) is not None:
        raise StorageStartError(f"POSTROOM_DATABASE_URL: cannot use {path}: {problem}")
    try:
        await storage.lifecycle.probe()  # PostgreSQL: one connection, its real cause
        await storage.lifecycle.ping()
    except StorageFullError as error:
        if not starting:
            raise StorageStartError(f"POSTROOM_DATABASE_URL: {error}") from None
        log.warning("storage.full", extra={"fields": {"intake": "refused"}})
    except StorageUnavailableError as error:
        where = f"cannot use {path}: " if path else ""
        raise StorageStartError(f"POSTROOM_DATABASE_URL: {where}{error}") from None
    if queue and storage.queue_lifecycle is not None:
        try:
            await storage.queue_lifecycle.ping()
        except StorageUnavailableError as error:
            raise StorageStartError(f"POSTROOM_QUEUE_URL: {error}") from None


@dataclass(frozen=True)
class Started:
    first_key: str | None  # the token of the key just created, to print once
    sqlite_file: str | None  # the database file, for the banner


async def prepare_start(settings: Settings, first_key: bool) -> Started:
    """Everything checked before anything is created: provider URLs (parsed, nothing sent),
    storage (opened and written), stored content against the configured keys (ConfigError,
    StorageStartError). Only then, with `first_key`, a store without API keys gets one."""
    for provider in open_providers(settings):
        await provider.close()
    storage = open_storage(settings)
    try:
        await check_storage(settings, storage, queue=False, starting=True)
        await check_keys_open_stored_content(storage, open_cipher(settings))
        token = None
        if first_key and not settings.insecure_no_auth and not await storage.keys.list_keys():
            token = await create_key(storage, "default")
        return Started(token, storage.file)
    finally:
        await storage.close()


def _sqlite_problem(path: str) -> str | None:
    """Why SQLite could not write at `path`, in words; None when it can. SQLite itself only
    says "unable to open database file", whatever the reason."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return f"directory {folder} does not exist"
    if os.path.isdir(path):
        return "it is a directory"
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))  # as SQLite would
    except OSError as error:
        return f"cannot write the file ({error.strerror})"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return (
            f"directory {folder} is not writable ({error.strerror}); "
            "SQLite keeps its -wal and -shm files beside the database"
        )
    return None


def open_templates(settings: Settings) -> tuple[Templates, Storage]:
    """The templates service over the configured storage, for operator commands; the caller
    closes the storage."""
    storage = open_storage(settings)
    if storage.templates is None:  # every store keeps them; a new engine might not yet
        raise ConfigError("POSTROOM_DATABASE_URL: this storage keeps no templates")
    return Templates(storage.templates, SystemClock()), storage


def open_cipher(settings: Settings) -> Cipher:
    if not settings.encryption_keys:
        return NoCipher()
    return AesGcmCipher(parse_keys(settings.encryption_keys))


async def check_keys_open_stored_content(storage: Storage, cipher: Cipher) -> None:
    """Refuse to start when stored content does not open with the configured keys: a wrong or
    missing key is a start-up error, not garbage sent to a provider later."""
    sample = await storage.sealed.sample_payload()
    if sample is None:
        return
    email_id, payload = sample
    try:
        cipher.open(payload, email_id.encode())
    except CipherError as error:
        raise ConfigError(
            f"POSTROOM_ENCRYPTION_KEYS: cannot open stored content: {error}"
        ) from None


def open_providers(settings: Settings) -> list[Provider]:
    try:
        return [provider_registry.open_provider(url) for url in settings.providers]
    except provider_registry.ProviderConfigError as error:
        raise ConfigError(f"POSTROOM_PROVIDERS: {error}") from None


async def probe_providers(settings: Settings) -> list[tuple[str, str, Probe]]:
    """Each configured provider's read-only check (nothing is sent), in the configured order:
    (name, masked URL, result). A probe that raises counts as the provider being down."""
    from postroom.logs import mask_url

    def result(found: Probe | BaseException) -> Probe:
        return found if isinstance(found, Probe) else Probe(False, "down", type(found).__name__)

    providers = open_providers(settings)
    try:
        found = await asyncio.gather(*(p.probe() for p in providers), return_exceptions=True)
    finally:
        for provider in providers:
            await provider.close()
    urls = settings.providers
    return [
        (p.name, mask_url(url), result(r)) for p, url, r in zip(providers, urls, found, strict=True)
    ]


@dataclass
class WorkerRuntime:
    worker: Worker
    storage: Storage
    providers: list[Provider]
    metrics: PrometheusMetrics
    settings: Settings
    health: LocalHealth
    events: EventsRuntime | None = None

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
    )
    worker = Worker(
        storage.queue, deliver, settings.concurrency, settings.visibility_timeout, wake=storage.wake
    )
    return WorkerRuntime(worker, storage, providers, metrics, settings, health, events)


def open_health(storage: Storage, names: list[str], metrics: PrometheusMetrics) -> LocalHealth:
    """With a store that shares circuits (PostgreSQL), every worker knows within a second of
    an outage one worker saw; otherwise circuits are kept in this process."""
    if storage.circuits is None:
        return LocalHealth(names, metrics=metrics)
    return SharedHealth(names, storage.circuits, SystemClock(), metrics=metrics)


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
    )
    container = Container(submit, storage.emails, storage.ping, settings.max_body_bytes, metrics)
    container.body_timeout = settings.body_timeout
    container.open_text = content.open_text
    container.templates = templates
    container.submit_many = submit.many
    if events is not None:
        _attach_events(container, events, storage, content)
    _attach_auth(container, settings, storage)
    if runtime is not None:
        container.render_metrics = runtime.refresh_metrics
        _attach_worker(container, runtime)
    else:
        container.render_metrics = _api_metrics(storage, metrics)
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
    if settings.rate_limit or settings.daily_quota:
        limits = SendingLimits(
            settings.rate_limit, settings.daily_quota, SystemClock(), storage.emails.count_since
        )
        container.limit = limits.check
    container.on_shutdown.append(authenticator.flush)


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
