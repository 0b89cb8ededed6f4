"""What the HTTP providers share: one pooled aiohttp session each, a bounded timeout, and the
error table of docs/design.md from status codes to ProviderError classes."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp

from postroom.domain.errors import (
    MisconfiguredError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.ports.provider import Probe

DEFAULT_TIMEOUT = 15.0
# What a provider's error body may contribute to an email's events (never to a log).
_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class ProviderUrl:
    """`scheme://user:password@host/path?k=v`, decoded. Secrets never appear in `repr`."""

    scheme: str
    user: str
    password: str
    host: str
    path: str
    query: dict[str, str]

    def __repr__(self) -> str:
        return f"ProviderUrl({self.scheme}://***@{self.host}{self.path})"

    def option(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    def timeout(self) -> float:
        raw = self.option("timeout", str(DEFAULT_TIMEOUT))
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.scheme}: timeout must be a number of seconds") from None
        if value <= 0:
            raise ValueError(f"{self.scheme}: timeout must be positive")
        return value


def parse_provider_url(url: str) -> ProviderUrl:
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return ProviderUrl(
        scheme=parts.scheme.lower(),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "",
        path=parts.path,
        query=query,
    )


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body or b"null")


class HttpTransport:
    """One connection pool per provider, created lazily inside the running event loop."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, limit: int = 256) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def post(self, url: str, **kwargs: Any) -> HttpReply:
        """POST and read the whole reply; timeouts and connection failures are ProviderDownError."""
        try:
            async with self._client().post(url, **kwargs) as response:
                body = await response.read()
                return HttpReply(response.status, dict(response.headers), body)
        except TimeoutError:
            raise ProviderDownError("timeout") from None
        except aiohttp.ClientError as error:
            raise ProviderDownError("connection", type(error).__name__) from None

    async def get(self, url: str, **kwargs: Any) -> HttpReply:
        """GET for a probe: like `post`, but a failure to connect names host:port and why."""
        try:
            async with self._client().get(url, **kwargs) as response:
                body = await response.read()
                return HttpReply(response.status, dict(response.headers), body)
        except TimeoutError:
            seconds = self._timeout.total
            raise ProviderDownError("timeout", f"{_where(url)}: no answer in {seconds}s") from None
        except aiohttp.ClientError as error:
            raise ProviderDownError("connection", f"{_where(url)}: {_cause(error)}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _where(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _cause(error: aiohttp.ClientError) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or type(error.os_error).__name__})"
    return type(error).__name__


def outcome_of(error: ProviderError) -> str:
    """The error class a probe reports, as the email history names it."""
    if isinstance(error, UnsupportedError):
        return "unsupported"
    if isinstance(error, PermanentError):
        return "permanent"
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, MisconfiguredError):
        return "misconfigured"
    return "down"


def probe_failed(error: ProviderError) -> Probe:
    """A Probe for a failed check: the class, the code and what was said (short)."""
    cause = f"{error.code}: {error.detail}" if error.detail else error.code
    return Probe(False, outcome_of(error), " ".join(cause.split())[:200])


async def probe_get(transport: HttpTransport, url: str, headers: dict[str, str]) -> Probe:
    """An authenticated read-only GET: ok on 2xx, else the class its status means."""
    try:
        raise_for_status(await transport.get(url, headers=headers))
    except ProviderError as error:
        return probe_failed(error)
    return Probe(True)


def raise_for_status(reply: HttpReply) -> None:
    """Return on 2xx, else raise the ProviderError the status means (docs/design.md)."""
    status = reply.status
    if 200 <= status < 300:
        return
    code = f"http_{status}"
    detail = reply.body[:_DETAIL_CHARS].decode("utf-8", "replace")
    if status in (400, 413, 422):
        raise PermanentError(code, detail)
    if status == 429:
        raise ThrottledError(code, detail, retry_after=retry_after(reply.headers))
    if status >= 500:
        raise ProviderDownError(code, detail)
    # 401/403 (credentials, account), and 404/405 and the like (wrong endpoint or domain):
    # nothing this email can fix, the provider is unusable until the operator acts.
    raise MisconfiguredError(code, detail)


def retry_after(headers: dict[str, str]) -> float | None:
    """Seconds from a Retry-After header given as seconds (HTTP dates are rare from APIs)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None
