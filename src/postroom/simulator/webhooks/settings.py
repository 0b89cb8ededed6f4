"""Where each simulated provider posts its webhooks, and the secrets it signs them with."""

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from postroom.simulator.webhooks.signing import (
    load_sendgrid_key,
    new_sendgrid_key,
    public_key_base64,
)

PROVIDERS = ("mailgun", "sendgrid", "postmark")
_SETTABLE = frozenset({"urls", "mailgun_signing_key", "sendgrid_private_key", "delay_seconds"})


def _new_signing_key() -> str:
    return secrets.token_hex(16)


@dataclass
class WebhookSettings:
    """A provider with no URL posts nothing. Both secrets exist from the start, as they do in a
    provider account: made up here unless given, and shown so the receiver can be told them."""

    # Provider → the receiver's URL; user:password in it is sent as basic auth (Postmark's way).
    urls: dict[str, str] = field(default_factory=dict)
    mailgun_signing_key: str = field(default_factory=_new_signing_key)
    sendgrid_key: ec.EllipticCurvePrivateKey = field(default_factory=new_sendgrid_key, repr=False)
    # How long a deferred recipient waits before its delivery is reported.
    delay_seconds: float = 1.0

    @property
    def sendgrid_public_key(self) -> str:
        return public_key_base64(self.sendgrid_key)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes`: `urls` ({provider: URL}, merged; "" removes one),
        `mailgun_signing_key`, `sendgrid_private_key` (PEM), `delay_seconds`. All or nothing: a
        ValueError names the first bad setting and nothing changes."""
        unknown = sorted(set(changes) - _SETTABLE)
        if unknown:
            raise ValueError(f"unknown webhook setting {unknown[0]!r}")
        urls = _merged_urls(self.urls, changes.get("urls", {}))
        signing_key = _signing_key(changes.get("mailgun_signing_key", self.mailgun_signing_key))
        pem = changes.get("sendgrid_private_key")
        sendgrid_key = self.sendgrid_key if pem is None else load_sendgrid_key(_text(pem))
        delay = _delay(changes.get("delay_seconds", self.delay_seconds))
        self.urls, self.mailgun_signing_key = urls, signing_key
        self.sendgrid_key, self.delay_seconds = sendgrid_key, delay

    def as_dict(self) -> dict[str, Any]:
        """What `GET /_sim/webhooks` shows: the public half of the SendGrid key only."""
        return {
            "urls": dict(self.urls),
            "mailgun_signing_key": self.mailgun_signing_key,
            "sendgrid_public_key": self.sendgrid_public_key,
            "delay_seconds": self.delay_seconds,
        }

    def url_options(self) -> dict[str, str]:
        """Provider → the options of Postroom's provider URL that make it accept these
        webhooks, ready to paste (the SendGrid key's `+`, `/` and `=` percent-encoded)."""
        return {
            "mailgun": f"webhook_signing_key={quote(self.mailgun_signing_key, safe='')}",
            "sendgrid": f"webhook_public_key={quote(self.sendgrid_public_key, safe='')}",
            "postmark": _postmark_options(self.urls.get("postmark", "")),
        }


def _merged_urls(current: dict[str, str], changes: Any) -> dict[str, str]:
    if not isinstance(changes, dict):
        raise ValueError("urls must be an object of provider names to URLs")
    merged = dict(current)
    for provider, url in changes.items():
        if provider not in PROVIDERS:
            raise ValueError(f"urls: unknown provider {provider!r}, expected one of {PROVIDERS}")
        if url == "":
            merged.pop(provider, None)
            continue
        merged[provider] = _url(provider, url)
    return merged


def _url(provider: str, url: Any) -> str:
    parts = urlsplit(_text(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The URL may hold a password: name the provider, not the URL.
        raise ValueError(f"urls: the {provider} URL must be http(s)://host...")
    return str(url)


def _signing_key(value: Any) -> str:
    key = _text(value)
    if not key:
        raise ValueError("mailgun_signing_key must not be empty")
    return key


def _delay(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("delay_seconds must be a number of seconds, 0 or more")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("webhook settings take strings for URLs and keys")
    return value


def _postmark_options(url: str) -> str:
    parts = urlsplit(url)
    user, password = parts.username or "", parts.password or ""
    # Already percent-encoded in the URL, so copied as they are.
    return f"webhook_user={user}&webhook_password={password}" if user or password else ""
