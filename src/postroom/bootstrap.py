"""The composition root: the one place where settings become adapters and services."""

import asyncio
from dataclasses import dataclass

from postroom import providers as provider_registry
from postroom import queues
from postroom.addressing import parse_with_email_validator
from postroom.api.app import create_app
from postroom.api.container import Container
from postroom.api.intake import IntakeRoute
from postroom.clocks import SystemClock
from postroom.domain.retry import RetryPolicy
from postroom.ports.backend import Backend
from postroom.ports.provider import Provider
from postroom.services.deliver import DeliverEmail
from postroom.services.submit import SubmitEmail
from postroom.settings import Settings
from postroom.worker.loop import Worker


class ConfigError(ValueError):
    """A setting is well-formed but cannot be used; one line naming the variable."""


def open_backend(settings: Settings) -> Backend:
    if settings.queue_url and settings.queue_url != settings.database_url:
        raise ConfigError(
            "POSTROOM_QUEUE_URL: a queue apart from the database is not supported yet"
        )
    try:
        return queues.open_backend(settings.database_url, SystemClock())
    except queues.BackendConfigError as error:
        raise ConfigError(f"POSTROOM_DATABASE_URL: {error}") from None


def open_providers(settings: Settings) -> list[Provider]:
    try:
        return [provider_registry.open_provider(url) for url in settings.providers]
    except provider_registry.ProviderConfigError as error:
        raise ConfigError(f"POSTROOM_PROVIDERS: {error}") from None


@dataclass
class WorkerRuntime:
    worker: Worker
    backend: Backend
    providers: list[Provider]

    async def close(self) -> None:
        for provider in self.providers:
            await provider.close()


def build_worker(settings: Settings, backend: Backend) -> WorkerRuntime:
    providers = open_providers(settings)
    policy = RetryPolicy(max_attempts=settings.max_attempts)
    deliver = DeliverEmail(backend, providers, SystemClock(), policy)
    worker = Worker(backend, deliver, concurrency=settings.concurrency)
    return WorkerRuntime(worker, backend, providers)


def build_app(settings: Settings, with_worker: bool) -> IntakeRoute:
    """The API; with `with_worker`, a delivery worker runs in the same event loop."""
    backend = open_backend(settings)
    submit = SubmitEmail(backend, SystemClock(), parse_with_email_validator)
    container = Container(submit, backend, backend, settings.max_body_bytes)
    if with_worker:
        _attach_worker(container, build_worker(settings, backend))
    container.on_shutdown.append(backend.close)
    return create_app(container)


def _attach_worker(container: Container, runtime: WorkerRuntime) -> None:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(runtime.worker.run(stop)))

    async def finish() -> None:
        stop.set()
        await asyncio.gather(*tasks)
        await runtime.close()

    container.on_startup.append(start)
    container.on_shutdown.append(finish)
