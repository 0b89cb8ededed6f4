"""The webhooks-out half of the composition root: the application's endpoints, the events
feed, and the dispatcher the workers run (docs/webhooks.md)."""

import asyncio
from dataclasses import dataclass, field

from postroom.clocks.system import SystemClock
from postroom.metrics.prometheus import PrometheusMetrics
from postroom.outbound.guard import check_url, parse_cidrs
from postroom.outbound.http import HttpWebhookSender
from postroom.ports.storage import Storage
from postroom.services.content import Content
from postroom.services.dispatch import DispatchWebhooks
from postroom.services.feed import Addresses, Feed, Payloads
from postroom.services.webhook_endpoints import Endpoints
from postroom.settings import Settings, schedule_of


@dataclass
class WebhooksRuntime:
    endpoints: Endpoints
    feed: Feed
    dispatch: DispatchWebhooks
    sender: HttpWebhookSender
    # Set when this process wrote feed items or messages: the dispatcher looks at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        await self.sender.close()


def build_webhooks(
    settings: Settings,
    storage: Storage,
    content: Content,
    metrics: PrometheusMetrics,
    wake: asyncio.Event,
) -> WebhooksRuntime | None:
    """None when the store keeps no webhooks."""
    if storage.webhooks is None:
        return None
    clock = SystemClock()
    endpoints = Endpoints(storage.webhooks, content, clock, check_url, on_enqueued=wake.set)
    payloads = Payloads(Addresses(storage.sealed, content))
    # POSTROOM_WEBHOOK_ALLOW_CIDRS was checked at start (opening.check_settings).
    # One endpoint may take every request in flight: the dispatcher's concurrency is the cap.
    sender = HttpWebhookSender(
        allowed=parse_cidrs(settings.webhook_allow_cidrs),
        timeout=settings.webhook_timeout,
        limit=settings.webhook_concurrency,
        limit_per_host=settings.webhook_concurrency,
    )
    dispatch = DispatchWebhooks(
        storage.webhooks,
        sender,
        payloads,
        endpoints,
        clock,
        metrics,
        concurrency=settings.webhook_concurrency,
        schedule=schedule_of(settings),
        timeout=settings.webhook_timeout,
    )
    feed = Feed(storage.webhooks, payloads)
    return WebhooksRuntime(endpoints, feed, dispatch, sender, wake)


def open_endpoints(settings: Settings) -> tuple[Endpoints, Storage]:
    """The endpoints over the configured storage, for operator commands: secrets sealed as
    the server seals them. The caller closes the storage."""
    # Imported here: the package imports this module.
    from postroom.bootstrap.opening import ConfigError, open_cipher, open_storage

    storage = open_storage(settings)
    if storage.webhooks is None:
        raise ConfigError("POSTROOM_DATABASE_URL: this storage keeps no webhook endpoints")
    content = Content(open_cipher(settings))
    return Endpoints(storage.webhooks, content, SystemClock(), check_url), storage
