"""The application's webhook endpoints: registered per tenant, each with its own secret, tested
and replayed on demand (docs/webhooks.md)."""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from postroom.domain.signing import new_secret
from postroom.domain.webhooks import TEST, payload, unknown_types
from postroom.ports.clock import Clock
from postroom.ports.webhooks import Attempt, Endpoint, NewMessage, Secret, WebhookStore
from postroom.services.content import Content

# After a rotation the old secret signs beside the new one for this long, so receivers can
# switch over without a gap.
ROTATION_GRACE = 24 * 3600.0
MAX_DESCRIPTION = 1000
MAX_ENDPOINTS = 100  # per tenant


class EndpointError(ValueError):
    """The request cannot be carried out; the message says why and quotes no URL."""


@dataclass(frozen=True, slots=True)
class Change:
    """A PATCH: None leaves a field as it is."""

    url: str | None = None
    types: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


def _context(endpoint_id: str) -> str:
    # The sealed secret opens only as this endpoint's.
    return f"webhook:{endpoint_id}"


class Endpoints:
    def __init__(
        self,
        store: WebhookStore,
        content: Content,
        clock: Clock,
        check_url: Callable[[str], str],
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._content = content
        self._clock = clock
        # "" for a URL endpoints may have, else why not (outbound/guard.py).
        self._check_url = check_url
        self._on_enqueued = on_enqueued
        self._secrets: dict[tuple[str, str], str] = {}

    async def create(
        self, tenant: str, url: str, types: Sequence[str], description: str
    ) -> tuple[Endpoint, str]:
        """The new endpoint and its secret, the one time the secret is shown."""
        self._check(url, types, description)
        if len(await self._store.list_endpoints(tenant)) >= MAX_ENDPOINTS:
            raise EndpointError(f"a tenant may have at most {MAX_ENDPOINTS} endpoints")
        now = self._clock.now()
        endpoint_id = "ep_" + secrets.token_hex(12)
        secret = new_secret(secrets.token_bytes(24))
        sealed = Secret(self._content.seal_text(secret, _context(endpoint_id)))
        endpoint = Endpoint(
            endpoint_id, tenant, url, tuple(types), description, True, (sealed,), now, now
        )
        await self._store.create_endpoint(endpoint)
        return endpoint, secret

    async def get(self, tenant: str, endpoint_id: str) -> Endpoint | None:
        return await self._store.get_endpoint(tenant, endpoint_id)

    async def every(self, tenant: str) -> list[Endpoint]:
        return await self._store.list_endpoints(tenant)

    async def update(self, tenant: str, endpoint_id: str, change: Change) -> Endpoint | None:
        found = await self._store.get_endpoint(tenant, endpoint_id)
        if found is None:
            return None
        url = found.url if change.url is None else change.url
        types = found.types if change.types is None else tuple(change.types)
        description = found.description if change.description is None else change.description
        self._check(url, types, description)
        updated = replace(
            found, url=url, types=types, description=description, updated_at=self._clock.now()
        )
        if change.enabled is not None and change.enabled != found.enabled:
            # Enabled again: its failures so far no longer count towards disabling it.
            updated = replace(
                updated, enabled=change.enabled, disabled_reason="", failing_since=None
            )
            if not change.enabled:
                updated = replace(updated, disabled_reason="disabled through the API")
        return updated if await self._store.update_endpoint(updated) else None

    async def rotate(self, tenant: str, endpoint_id: str) -> tuple[Endpoint, str] | None:
        """A new secret signs from now on; the current one signs beside it for a day."""
        found = await self._store.get_endpoint(tenant, endpoint_id)
        if found is None:
            return None
        now = self._clock.now()
        secret = new_secret(secrets.token_bytes(24))
        fresh = Secret(self._content.seal_text(secret, _context(endpoint_id)))
        kept = tuple(
            s if s.expires_at is not None else replace(s, expires_at=now + ROTATION_GRACE)
            for s in found.secrets
            if s.expires_at is None or s.expires_at > now
        )
        updated = replace(found, secrets=(fresh, *kept), updated_at=now)
        if not await self._store.update_endpoint(updated):
            return None
        return updated, secret

    def signing_secrets(self, endpoint: Endpoint, now: float) -> list[str]:
        """The secrets that sign a message sent now: the current one and any in its grace."""
        return [
            self._opened(endpoint.id, s.value)
            for s in endpoint.secrets
            if s.expires_at is None or s.expires_at > now
        ]

    def _opened(self, endpoint_id: str, sealed: str) -> str:
        # Every message opens its endpoint's secret: kept, by its sealed form, once opened.
        found = self._secrets.get((endpoint_id, sealed))
        if found is None:
            if len(self._secrets) >= MAX_ENDPOINTS * 4:
                self._secrets.clear()
            found = self._content.open_text(sealed, _context(endpoint_id))
            self._secrets[(endpoint_id, sealed)] = found
        return found

    async def delete(self, tenant: str, endpoint_id: str) -> bool:
        return await self._store.delete_endpoint(tenant, endpoint_id)

    async def test(self, tenant: str, endpoint_id: str) -> str | None:
        """Send a `webhook.test` event to the endpoint (enabled or not is its lease's
        business); its webhook-id, or None when there is no such endpoint."""
        if await self._store.get_endpoint(tenant, endpoint_id) is None:
            return None
        now = self._clock.now()
        webhook_id = "evt_test_" + secrets.token_hex(8)
        body = payload(TEST, now, {"id": webhook_id, "endpoint_id": endpoint_id})
        await self._store.enqueue([NewMessage(webhook_id, endpoint_id, tenant, TEST, body, now)])
        if self._on_enqueued is not None:
            self._on_enqueued()
        return webhook_id

    async def attempts(
        self, tenant: str, endpoint_id: str, limit: int, before: int = 0
    ) -> list[Attempt] | None:
        if await self._store.get_endpoint(tenant, endpoint_id) is None:
            return None
        return await self._store.attempts(tenant, endpoint_id, limit, before)

    async def replay(
        self,
        tenant: str,
        endpoint_id: str,
        since: float,
        until: float,
        failed_only: bool,
        webhook_id: str = "",
    ) -> int | None:
        """How many messages will be sent again; None when there is no such endpoint."""
        if await self._store.get_endpoint(tenant, endpoint_id) is None:
            return None
        if until <= since:
            raise EndpointError("`until` must be later than `since`")
        now = self._clock.now()
        count = await self._store.replay(
            tenant, endpoint_id, since, until, failed_only, now, webhook_id
        )
        if count and self._on_enqueued is not None:
            self._on_enqueued()
        return count

    def _check(self, url: str, types: Sequence[str], description: str) -> None:
        problem = self._check_url(url)
        if problem:
            raise EndpointError(f"url: {problem}")
        unknown = unknown_types(types)
        if unknown:
            # The names come from the request and are no one's data; capped all the same.
            raise EndpointError(f"types: unknown event type {unknown[0][:60]!r}")
        if len(description) > MAX_DESCRIPTION:
            raise EndpointError(f"description: at most {MAX_DESCRIPTION} characters")
