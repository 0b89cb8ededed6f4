"""Provider adapters, chosen by URL scheme and imported only when used."""

from typing import cast

from postroom._lazy import load_class
from postroom.ports.provider import Provider

PROVIDERS: dict[str, tuple[str, str | None]] = {
    "outbox": ("postroom.providers.outbox:OutboxProvider", None),
    "mailgun": ("postroom.providers.mailgun:MailgunProvider", None),
    "sendgrid": ("postroom.providers.sendgrid:SendgridProvider", None),
    "postmark": ("postroom.providers.postmark:PostmarkProvider", None),
    "ses": ("postroom.providers.ses:SesProvider", "ses"),
    "smtp": ("postroom.providers.smtp:SmtpProvider", "smtp"),
}


class ProviderConfigError(ValueError):
    """A provider URL is malformed or names an unknown provider; the text says which and why."""


def check_url(url: str) -> None:
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ProviderConfigError("not a URL (expected scheme://...)")
    if scheme.lower() not in PROVIDERS:
        raise ProviderConfigError(f"unknown provider {scheme!r}; known: {', '.join(PROVIDERS)}")


def open_provider(url: str) -> Provider:
    check_url(url)
    target, extra = PROVIDERS[url.partition("://")[0].lower()]
    try:
        adapter = load_class(target, extra)
    except ImportError as error:
        raise ProviderConfigError(str(error)) from None
    try:
        return cast(Provider, adapter.from_url(url))
    except ValueError as error:
        raise ProviderConfigError(str(error)) from None
