"""The one parser of provider URLs: `scheme://user:password@host/path?option=value`.

Every provider reads its URL through `parse_url`, which checks the scheme and refuses options
the provider does not know, and the `ProviderUrl` accessors, which read the options every
provider shares (`name`, `timeout`, `base_url`) and the choices some take (`region`, `tls`).
The secrets of a provider's inbound webhooks (providers/webhooks/) are options of the same URL,
so one URL configures both directions. Every ValueError names the provider and the problem,
never a credential.
"""

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from postroom.providers.base import DEFAULT_TIMEOUT

# What every HTTP provider takes besides its own options.
HTTP_OPTIONS = frozenset({"base_url", "timeout"})
# What every provider takes: `name=` tells two providers of one kind apart (in receipts and
# events).
COMMON_OPTIONS = frozenset({"name"})
# The options of each kind's inbound webhooks, accepted besides the sending adapter's own.
WEBHOOK_OPTIONS: dict[str, frozenset[str]] = {
    "mailgun": frozenset({"webhook_signing_key"}),
    # The base64 DER of the P-256 public key, as SendGrid's console shows it.
    "sendgrid": frozenset({"webhook_public_key"}),
    # Basic auth on the hook URL: Postmark signs nothing.
    "postmark": frozenset({"webhook_user", "webhook_password"}),
    "ses": frozenset({"topic_arns", "events_queue"}),
}
_NAME = re.compile(r"[a-z0-9_-]{1,40}")


@dataclass(frozen=True, slots=True)
class ProviderUrl:
    """A provider URL, decoded. Secrets never appear in `repr`."""

    scheme: str
    user: str = field(repr=False)
    password: str = field(repr=False)
    host: str
    path: str
    # The options hold the webhook secrets too.
    query: dict[str, str] = field(repr=False)
    # The authority as written (case kept, not decoded): API keys and tokens are case-sensitive,
    # and urlsplit's `hostname` lowercases.
    authority: str = field(repr=False, default="")
    port: int | None = None
    fragment: str = ""

    def option(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    @property
    def provider_name(self) -> str:
        """`?name=` (1-40 of a-z 0-9 _ -), else the scheme: what receipts and events call it."""
        name = self.query.get("name", self.scheme)
        if not _NAME.fullmatch(name):
            raise ValueError(f"{self.scheme}: name must be 1-40 characters of a-z 0-9 _ -")
        return name

    def timeout(self) -> float:
        """`?timeout=` in seconds (positive), DEFAULT_TIMEOUT when absent."""
        raw = self.option("timeout", str(DEFAULT_TIMEOUT))
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.scheme}: timeout must be a number of seconds") from None
        if not value > 0:
            raise ValueError(f"{self.scheme}: timeout must be positive")
        return value

    def base_url(self, default: str = "") -> str:
        """`?base_url=`, an http(s) URL without query, its trailing '/' removed; else `default`."""
        raw = self.option("base_url")
        if not raw:
            return default
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(
                f"{self.scheme}: base_url must be an http(s) URL such as http://127.0.0.1:8025"
            )
        return raw.rstrip("/")

    def choice(self, name: str, allowed: Collection[str], default: str) -> str:
        """An option that takes one of a few values (`region=us|eu`, `tls=...`)."""
        value = self.option(name, default).lower()
        if value not in allowed:
            raise ValueError(
                f"{self.scheme}: unknown {name} {value!r}; use {' or '.join(sorted(allowed))}"
            )
        return value

    def token(self, shape: str) -> str:
        """The whole authority as one credential (`sendgrid://KEY`, `postmark://TOKEN`)."""
        token = unquote(self.authority)
        if (
            not token
            or any(c.isspace() or c in "@:/" for c in token)
            or self.path not in ("", "/")
            or self.fragment
        ):
            raise ValueError(f"{self.scheme}: no key, or extra parts around it; expected {shape}")
        return token


def parse_url(url: str, scheme: str, options: Collection[str]) -> ProviderUrl:
    """`url` split and checked: its scheme is `scheme` and it names only `options`, `name` and
    the scheme's WEBHOOK_OPTIONS."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"{scheme}: malformed URL (a bad port or bracket?)") from None
    if parts.scheme.lower() != scheme:
        raise ValueError(f"{scheme}: wrong scheme; expected {scheme}://...")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    shared = [*sorted(COMMON_OPTIONS), *sorted(WEBHOOK_OPTIONS.get(scheme, ()))]
    unknown = sorted(set(query) - set(options) - set(shared))
    if unknown:
        # The provider's own options first, then those every provider and its webhooks take.
        known = ", ".join([*sorted(options), *shared])
        raise ValueError(f"{scheme}: unknown option(s) {', '.join(unknown)}; known: {known}")
    return ProviderUrl(
        scheme=scheme,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "",
        path=parts.path,
        query=query,
        authority=parts.netloc,
        port=port,
        fragment=parts.fragment,
    )
