"""Amazon SES through the v2 API: `SendEmail` with `Content.Raw`, signed and sent by aiobotocore.

The message is the one providers/mime.py renders, generated 7-bit clean because SES takes
neither SMTPUTF8 nor 8-bit bodies. Credentials come from the AWS chain (environment, shared
files, instance or task role), never from the provider URL. docs/providers/ses.md has the
mapping and what SES cannot express.
"""

import asyncio
import json
import re
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
    UnsupportedError,
)
from postroom.domain.message import Email
from postroom.ports.provider import Outgoing, Probe, Receipt
from postroom.providers.addresses import non_ascii_local_part, wire_address
from postroom.providers.base import (
    CONNECT_TIMEOUT,
    ID_UNKNOWN,
    BaseProvider,
    detail,
    metadata_with_id,
    probe_failed,
)
from postroom.providers.mime import render, wire_bytes
from postroom.providers.urls import parse_url

# MessageTag names and values (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_MessageTag.html).
_TAG_TEXT = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A value for a tag that is only a name: SES needs one, and "true" reads well in event filters.
TAG_VALUE = "true"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPTIONS = frozenset({"base_url", "timeout", "configuration_set"})

# Error codes SES v2 documents for SendEmail, plus the ones every AWS API may answer with.
_PERMANENT = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"}
)
_MISCONFIGURED = frozenset(
    {
        "AccountSuspended",
        "AccountSuspendedException",
        "SendingPausedException",
        "NotFoundException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
    }
)
_THROTTLED = frozenset(
    {
        "TooManyRequestsException",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
    }
)


class SesProvider(BaseProvider[dict[str, Any], dict[str, Any]]):
    """The answer `transmit` returns is SendEmail's parsed reply: `{"MessageId", ...}`, or
    `{"Error": {"Code", "Message"}, "ResponseMetadata": ...}` when SES refused."""

    name = "ses"

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        timeout: float = 15.0,
        configuration_set: str = "",
        name: str = "ses",
    ) -> None:
        super().__init__()
        self.name = name
        self.region = region
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self.configuration_set = configuration_set
        self._client: Any = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str) -> "SesProvider":
        """`ses://REGION?base_url=...&timeout=...&configuration_set=...`."""
        parsed = parse_url(url, "ses", _OPTIONS)
        if parsed.user or parsed.password:
            raise ValueError("ses: credentials come from the AWS chain, not from the URL")
        if not _REGION.fullmatch(parsed.host) or parsed.path not in ("", "/"):
            raise ValueError("ses: expected ses://REGION, e.g. ses://eu-west-1")
        configuration_set = parsed.option("configuration_set")
        if configuration_set and not _CONFIGURATION_SET.fullmatch(configuration_set):
            raise ValueError("ses: configuration_set must be 1-64 of A-Z a-z 0-9 _ -")
        return cls(
            parsed.host,
            endpoint_url=parsed.base_url() or None,
            timeout=parsed.timeout(),
            configuration_set=configuration_set,
            name=parsed.provider_name,
        )

    def build(self, outgoing: Outgoing, now: float) -> dict[str, Any]:
        try:
            return build_request(outgoing, now, self.configuration_set)
        except ValueError as error:
            # A header the message cannot carry (CR/LF): validation should have refused it;
            # the email package refuses it here.
            raise PermanentError("invalid_message", type(error).__name__) from None

    async def transmit(self, request: dict[str, Any]) -> dict[str, Any]:
        """SendEmail; SES's error answers are returned, only a missing answer raises."""
        try:
            async with asyncio.timeout(self.timeout):
                client = await self._session_client()
                reply: dict[str, Any] = await client.send_email(**request)
                return reply
        except ClientError as error:
            response: dict[str, Any] = error.response
            return response
        except BotoCoreError as error:
            raise classify_botocore_error(error) from None
        except TimeoutError:
            # Connecting gives up sooner (connect_timeout), so this is after the request went.
            raise OutcomeUnknownError("unknown_timeout", "sent, no answer in time") from None

    def parse(self, answer: dict[str, Any]) -> Receipt:
        if "Error" in answer:
            raise classify_client_error(answer)
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        message_id = answer.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            # A 2xx without its MessageId (an empty body parses to {}): sent, id unknown.
            return Receipt(self.name, "", f"http_{status}_{ID_UNKNOWN}")
        return Receipt(self.name, message_id, f"http_{status}")

    async def probe(self) -> Probe:
        """GetAccount: the credentials, the region and whether sending is enabled, read-only."""
        try:
            async with asyncio.timeout(self.timeout):
                client = await self._session_client()
                account = await client.get_account()
        except ClientError as error:
            return probe_failed(classify_client_error(error.response))
        except BotoCoreError as error:
            return probe_failed(_with_where(classify_botocore_error(error), self._where()))
        except TimeoutError:
            return Probe(False, "down", f"timeout: {self._where()}: no answer in {self.timeout}s")
        if account.get("SendingEnabled") is False:
            return Probe(False, "misconfigured", "sending is paused for this account")
        return Probe(True)

    def _where(self) -> str:
        url = self.endpoint_url or f"https://email.{self.region}.amazonaws.com"
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    async def _session_client(self) -> Any:
        # One client (one connection pool, one credential cache) for the provider's life,
        # created inside the running loop; the lock keeps concurrent first sends to one.
        async with self._lock:
            if self._client is None:
                config = AioConfig(
                    connect_timeout=min(CONNECT_TIMEOUT, self.timeout / 2),
                    read_timeout=self.timeout,
                    # The router fails over and retries; botocore retrying inside one attempt
                    # would only spend the attempt's time budget.
                    retries={"total_max_attempts": 1},
                    max_pool_connections=64,
                )
                creator = get_session().create_client(
                    "sesv2",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                )
                self._client = await self._stack.enter_async_context(creator)
                self._client.meta.events.register(
                    "before-parse.sesv2.SendEmail", unreadable_success_as_empty
                )
            return self._client

    async def close(self) -> None:
        async with self._lock:
            await self._stack.aclose()
            self._client = None
            self._stack = AsyncExitStack()


def unreadable_success_as_empty(response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's `before-parse` hook: a 2xx SendEmail answer whose body is not JSON is parsed
    as an empty one, so it becomes a receipt with the id unknown. botocore's JSON parser would
    raise on it (UnicodeDecodeError, not even a botocore error), and a failure would send the
    email again through the next provider."""
    if not 200 <= int(response_dict.get("status_code", 0)) < 300:
        return
    try:
        json.loads(response_dict.get("body") or b"{}")
    except ValueError:  # UnicodeDecodeError is one
        response_dict["body"] = b""


def build_request(outgoing: Outgoing, now: float, configuration_set: str = "") -> dict[str, Any]:
    """The SendEmail parameters for one email; UnsupportedError for what SES
    cannot carry, before anything is sent."""
    email = outgoing.email
    _check_ascii_local_parts(email)
    request: dict[str, Any] = {
        "FromEmailAddress": wire_address(email.sender.email),
        "Destination": _destination(email),
        # SES wants 7-bit with lines <= 1000 octets: encoded words in headers, RFC 2231 file
        # names, quoted-printable or base64 bodies (SES developer guide, "send-email-raw").
        "Content": {
            "Raw": {"Data": wire_bytes(render(outgoing, now), utf8=False, eight_bit=False)}
        },
    }
    # The email id as a tag, which SES puts on each event it publishes for the message.
    request["EmailTags"] = email_tags(outgoing)
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    return request


def _destination(email: Email) -> dict[str, list[str]]:
    fields = (("ToAddresses", email.to), ("CcAddresses", email.cc), ("BccAddresses", email.bcc))
    return {
        field: [wire_address(a.email) for a in addresses]
        for field, addresses in fields
        if addresses
    }


def _check_ascii_local_parts(email: Email) -> None:
    # SES has no SMTPUTF8: a non-ASCII domain becomes A-labels, a non-ASCII local part cannot.
    if non_ascii_local_part((email.sender, *email.recipients(), *email.reply_to)):
        raise UnsupportedError("SES does not accept non-ASCII local parts")


def email_tags(outgoing: Outgoing) -> list[dict[str, str]]:
    """Tags as {Name: tag, Value: "true"}, metadata as {Name: key, Value: value}, then
    {Name: "postroom_id", Value: the email id} (a UUID: hex digits and '-', which SES allows).

    SES allows only [A-Za-z0-9_-]{1,256} in both, and one tag per name: anything else (a tag
    named postroom_id too) is a UnsupportedError rather than a tag silently dropped or rewritten.
    """
    tags = dict.fromkeys(outgoing.email.tags)
    pairs = [(tag, TAG_VALUE) for tag in tags] + list(metadata_with_id(outgoing))
    seen: set[str] = set()
    for name, value in pairs:
        if not (_TAG_TEXT.fullmatch(name) and _TAG_TEXT.fullmatch(value)):
            raise UnsupportedError(
                f"SES tags allow only A-Z a-z 0-9 _ - (1-256 characters): {name!r}={value!r}",
            )
        if name in seen:
            raise UnsupportedError(f"SES takes one tag per name: {name!r} twice")
        seen.add(name)
    return [{"Name": name, "Value": value} for name, value in pairs]


def classify_client_error(response: dict[str, Any]) -> ProviderError:
    """The error class of an SES error answer (botocore's ClientError.response), by error code,
    else by HTTP status (docs/design.md)."""
    info = response.get("Error", {})
    name = str(info.get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    code = f"ses_{_safe(name)}" if name else f"http_{status}"
    # The message may name addresses: it goes into the email's events, never a log.
    said = detail(str(info.get("Message", "")))
    if name in _PERMANENT:
        return PermanentError(code, said)
    if name in _MISCONFIGURED:
        return MisconfiguredError(code, said)
    if name in _THROTTLED or status == 429:
        return ThrottledError(code, said)
    if status >= 500 or status == 0:
        return ProviderDownError(code, said)
    if status in (400, 413, 422):
        return PermanentError(code, said)
    return MisconfiguredError(code, said)


def classify_botocore_error(error: BotoCoreError) -> ProviderError:
    """Errors raised before or instead of an SES answer."""
    kind = type(error).__name__
    if isinstance(error, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return MisconfiguredError("credentials", kind)
    if isinstance(error, ParamValidationError):
        return PermanentError("invalid_request", kind)
    if isinstance(error, ConnectTimeoutError):
        return ProviderDownError("timeout", kind)  # nothing was sent
    if isinstance(error, ReadTimeoutError):
        return OutcomeUnknownError("unknown_timeout", kind)  # sent; SES may have it
    return ProviderDownError("connection", kind)


def _with_where(error: ProviderError, where: str) -> ProviderError:
    if error.code == "connection":
        error.detail = f"{where}: {error.detail}"
    return error


def _safe(name: str) -> str:
    """An error code fit for logs and metric labels, whatever the server sent."""
    return re.sub(r"[^A-Za-z0-9_.]", "", name)[:64] or "unknown"
