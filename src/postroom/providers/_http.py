"""What the HTTP providers share: one pooled aiohttp session each, a bounded timeout, the
`HttpProvider` base (transmit is one POST, probe one authenticated GET) and the error table of
docs/design.md from status codes to ProviderError classes."""

import json
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
)
from postroom.ports.provider import Probe, Receipt
from postroom.providers.base import (
    CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    ID_UNKNOWN,
    BaseProvider,
    detail,
    probe_failed,
)

RequestT = TypeVar("RequestT")


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes
    # False when the connection broke (or timed out) after the status line: `body` is what
    # arrived, often nothing. Only a 2xx is returned so; any other status raises instead.
    complete: bool = True

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str:
        """A header's value by case-insensitive name, "" when absent."""
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), "")


class HttpTransport:
    """One connection pool per provider, created lazily inside the running event loop."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, limit: int = 256) -> None:
        # Connecting has a shorter limit of its own, so that a timeout is known to be before
        # anything was sent (try the next provider) or after (the provider may have the email).
        connect = min(CONNECT_TIMEOUT, timeout / 2)
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def post(self, url: str, **kwargs: Any) -> HttpReply:
        """POST and read the whole reply; timeouts and connection failures are ProviderDownError,
        except after a 2xx status line: the provider said it took the email, so the reply is
        returned with `complete` False (an accepted email must not be sent again elsewhere)."""
        try:
            async with self._client().post(url, **kwargs) as response:
                return await _reply(response)
        except aiohttp.ConnectionTimeoutError:
            raise ProviderDownError("timeout", "no connection") from None
        except TimeoutError:
            # Connected, the request written (our bodies fit the socket buffers), no status
            # line: the provider may have taken the email. (A wait for a free pooled
            # connection ends here too; it is rare, and treated with the same caution.)
            raise OutcomeUnknownError("unknown_timeout", "sent, no answer in time") from None
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


class HttpProvider(BaseProvider[RequestT, HttpReply]):
    """A provider whose send is one POST to `endpoint` and whose probe is one GET of
    `probe_url`; subclasses give the headers and, when the request is not the body itself
    (a form), `body`."""

    endpoint: str
    probe_url: str

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._http = HttpTransport(timeout)

    @abstractmethod
    def send_headers(self) -> dict[str, str]:
        """The headers of a send: credentials and content type."""

    def probe_headers(self) -> dict[str, str]:
        return self.send_headers()

    def body(self, request: RequestT) -> Any:
        """What aiohttp posts for the request (the request itself, by default)."""
        return request

    async def transmit(self, request: RequestT) -> HttpReply:
        return await self._http.post(
            self.endpoint, data=self.body(request), headers=self.send_headers()
        )

    async def probe(self) -> Probe:
        """An authenticated read-only GET: ok on 2xx, else the class its status means."""
        try:
            self.check_probe(await self._http.get(self.probe_url, headers=self.probe_headers()))
        except ProviderError as error:
            return probe_failed(error)
        return Probe(True)

    def check_probe(self, reply: HttpReply) -> None:
        """Raise the ProviderError a probe's reply means; by default, by status."""
        raise_for_status(reply)

    async def close(self) -> None:
        await self._http.close()


async def _reply(response: aiohttp.ClientResponse) -> HttpReply:
    headers = dict(response.headers)
    if not 200 <= response.status < 300:
        return HttpReply(response.status, headers, await response.read())
    try:
        return HttpReply(response.status, headers, await response.read())
    except (TimeoutError, aiohttp.ClientError):
        return HttpReply(response.status, headers, b"", complete=False)


def accepted_without_id(provider: str, reply: HttpReply) -> Receipt:
    """A 2xx whose body is empty, unreadable or cut off: sent, with the provider's message id
    unknown. The provider said it took the email; treating that as a failure would send it
    again through the next provider (docs/providers/README.md, "Ambiguous answers")."""
    return Receipt(provider, "", f"http_{reply.status}_{ID_UNKNOWN}")


def _where(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _cause(error: aiohttp.ClientError) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or type(error.os_error).__name__})"
    return type(error).__name__


def raise_for_status(reply: HttpReply) -> None:
    """Return on 2xx, else raise the ProviderError the status means (docs/design.md)."""
    status = reply.status
    if 200 <= status < 300:
        return
    code = f"http_{status}"
    said = detail(reply.body)
    if status in (400, 413, 422):
        raise PermanentError(code, said)
    if status == 429:
        raise ThrottledError(code, said, retry_after=retry_after(reply.headers))
    if status >= 500:
        raise ProviderDownError(code, said)
    # 401/403 (credentials, account), and 404/405 and the like (wrong endpoint or domain):
    # nothing this email can fix, the provider is unusable until the operator acts.
    raise MisconfiguredError(code, said)


def retry_after(headers: dict[str, str]) -> float | None:
    """Seconds from a Retry-After header given as seconds (HTTP dates are rare from APIs)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None
