"""Inbound webhook adapters, chosen by the provider URL's scheme and imported only when used.

A provider URL configures both directions: `open_provider(url)` (providers/__init__.py) sends
through it, `open_inbound(url)` receives its events. Kinds that report no events (smtp,
outbox) have no inbound adapter.
"""

from typing import cast
from urllib.parse import parse_qs, urlsplit

from postroom._lazy import load_class
from postroom.providers import PROVIDERS, ProviderConfigError, check_url
from postroom.providers.urls import parse_url
from postroom.providers.webhooks.base import Inbound

INBOUND: dict[str, tuple[str, str | None]] = {
    "mailgun": ("postroom.providers.webhooks.mailgun:MailgunInbound", None),
    "sendgrid": ("postroom.providers.webhooks.sendgrid:SendgridInbound", None),
    "postmark": ("postroom.providers.webhooks.postmark:PostmarkInbound", None),
    "ses": ("postroom.providers.webhooks.ses:SesInbound", PROVIDERS["ses"][1]),
}
INBOUND_KINDS = frozenset(INBOUND)
# The options an inbound endpoint needs before it accepts anything (providers/urls.py
# WEBHOOK_OPTIONS); without them it refuses every request.
SECRETS: dict[str, tuple[str, ...]] = {
    "mailgun": ("webhook_signing_key",),
    "sendgrid": ("webhook_public_key",),
    "postmark": ("webhook_user", "webhook_password"),
    "ses": ("topic_arns",),
}


def open_inbound(url: str) -> Inbound | None:
    """The webhook endpoint of the provider `url` configures, or None for a kind without
    inbound events; ProviderConfigError for a URL its adapter refuses (never echoing a
    secret)."""
    check_url(url)
    kind = _kind(url)
    if kind not in INBOUND:
        return None
    target, extra = INBOUND[kind]
    try:
        adapter = load_class(target, extra)
    except ImportError as error:
        raise ProviderConfigError(str(error)) from None
    try:
        return cast(Inbound, adapter.from_url(url))
    except ValueError as error:
        raise ProviderConfigError(str(error)) from None


def provider_name(url: str) -> str:
    """The provider's name (`name=`, else the scheme) for any provider URL, without checking
    the adapter's other options (its from_url does); ProviderConfigError for a bad name."""
    check_url(url)
    try:
        return parse_url(url, _kind(url), _option_names(url)).provider_name
    except ValueError as error:
        raise ProviderConfigError(str(error)) from None


def missing_secrets(url: str) -> list[str]:
    """The SECRETS options `url` leaves out or empty: what its endpoint still needs."""
    query = parse_qs(urlsplit(url).query)
    return [name for name in SECRETS.get(_kind(url), ()) if not query.get(name)]


def _kind(url: str) -> str:
    return url.partition("://")[0].lower()


def _option_names(url: str) -> frozenset[str]:
    return frozenset(parse_qs(urlsplit(url).query))
