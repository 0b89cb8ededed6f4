"""Amazon SES events through Amazon SNS: verify the SNS envelope, then read the SES event in it.

SES publishes each sending event to an SNS topic, and SNS POSTs it to our URL as a JSON envelope
(`text/plain`) whose `Message` is the SES event as a JSON string
(https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html,
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html).

Nothing in the request proves who sent it but the envelope's RSA signature, so every envelope
is verified before anything in it is acted on, as "Verifying the signatures of Amazon SNS
messages" asks (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
Then its topic is checked against `topic_arns=`: a valid signature proves that SNS sent the
message, not that it is meant for us, since anyone can subscribe our URL to a topic of their own.
A replayed envelope is harmless: its events carry the SNS MessageId, so they are stored once.

The SES event inside is read by ses_events.py. The pull path (an SQS queue subscribed to the
topic, no public endpoint) is ses_queue.py; its messages come through `SesInbound.receive_queued`.
"""

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from postroom.domain.events import ProviderEvent, digest_of
from postroom.logs import RateLimitedLog, get_logger, log_event
from postroom.providers.urls import ProviderUrl, parse_url
from postroom.providers.webhooks.base import Received, WebhookRefusedError, WebhookRequest
from postroom.providers.webhooks.ses_events import as_object, ses_events, timestamp

log = get_logger("webhooks.ses")

# The sending adapter's options (providers/ses.py); parse_url adds `name=` and the webhook
# options of the ses scheme, `topic_arns=` and `events_queue=`.
URL_OPTIONS = frozenset({"base_url", "timeout", "configuration_set"})
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")

# The keys each message type signs, in the order they are signed (byte order); Subject only
# when present and not null (SNS to Lambda carries `"Subject": null` and signs without it).
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION,
    "UnsubscribeConfirmation": _CONFIRMATION,
}
# What must be there besides the signed keys (aws-php-sns-message-validator's Message.php).
_UNSIGNED = ("Signature", "SignatureVersion", "SigningCertURL")
# SNS to Lambda spells these ...Url; the signature covers neither, so either casing will do.
_ALIASES = {"SigningCertUrl": "SigningCertURL", "SubscribeUrl": "SubscribeURL"}
# SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA; any other cannot be checked.
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# Where SNS keeps its signing certificates: https, an SNS endpoint, a .pem file (the host rule
# is aws-php-sns-message-validator's). The whole URL must match, so no user part, port, query
# or backslash can make the URL fetched differ from the URL checked.
_CERT_URL = re.compile(
    r"https://sns\.[A-Za-z0-9-]{3,}\.amazonaws\.com(?:\.cn)?/[A-Za-z0-9._/-]+\.pem"
)
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]{3,}\.amazonaws\.com(?:\.cn)?")
_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d+:[A-Za-z0-9_.-]{1,256}")
# The Notification SES sends when a topic becomes an event destination: not an event.
_VALIDATED = "Successfully validated SNS topic for Amazon SES"

FETCH_TIMEOUT = 10.0  # seconds, for a whole GET
MAX_FETCH_BYTES = 64 * 1024  # an SNS certificate is under 2 KiB, a confirmation's answer less
CACHE_SIZE = 64  # signing certificates kept, by URL; SNS uses a handful per region

Fetch = Callable[[str], Awaitable[bytes]]


class FetchError(Exception):
    """A GET that did not answer 200 with a body within the limits; the text is a short word."""


class HttpFetch:
    """The default `fetch`: GET with one aiohttp session, FETCH_TIMEOUT seconds in all, no
    redirects (one would leave the host that was checked), at most MAX_FETCH_BYTES read."""

    def __init__(self, timeout: float = FETCH_TIMEOUT, limit: int = MAX_FETCH_BYTES) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str) -> bytes:
        """The body of a 200 answer; FetchError for anything else."""
        try:
            async with self._client().get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise FetchError(f"http_{response.status}")
                if (response.content_length or 0) > self._limit:
                    raise FetchError("too_large")
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > self._limit:
                        raise FetchError("too_large")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise FetchError(type(error).__name__) from None

    def _client(self) -> aiohttp.ClientSession:
        # Created inside the running loop, on first use.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SesInbound:
    """The SES provider's event endpoint (the Inbound protocol): SNS envelopes over HTTP, and
    the messages of the SQS queue of ses_queue.py.

    `fetch` is the only network access: it GETs signing certificates and confirms
    subscriptions. It must raise FetchError when it gets no 200 answer."""

    kind = "ses"

    def __init__(
        self,
        topic_arns: Collection[str],
        *,
        name: str = "ses",
        fetch: Fetch | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.name = name
        self.topic_arns = frozenset(topic_arns)
        self._own_fetch: HttpFetch | None = None
        if fetch is None:
            fetch = self._own_fetch = HttpFetch()
        self._fetch = fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._cache_size = cache_size
        self._warn = RateLimitedLog()

    @classmethod
    def from_url(cls, url: str, *, fetch: Fetch | None = None) -> "SesInbound":
        """`ses://[KEY:SECRET@]REGION?topic_arns=ARN,ARN&name=NAME&...`; an empty or absent
        topic_arns accepts no envelope at all."""
        parsed = parse_url(url, "ses", URL_OPTIONS)
        return cls(topic_arns(parsed), name=parsed.provider_name, fetch=fetch)

    def __repr__(self) -> str:
        return f"SesInbound({self.name})"

    async def receive(self, request: WebhookRequest) -> Received:
        """An SNS POST: verified, its topic allowed, then acted on (module docstring)."""
        if request.headers.get("x-amz-sns-rawdelivery", "").lower() == "true":
            # Raw message delivery drops the envelope and its signature with it: nothing would
            # prove the body came from SNS. Raw delivery suits the SQS path only, where the
            # queue's access policy decides who may write.
            raise WebhookRefusedError(401, "signature")
        envelope = await self.verified(request.body)
        return await self._act(envelope, request.body)

    async def receive_queued(self, body: bytes) -> Received:
        """A message of the SQS queue subscribed to the topic: an SNS envelope (it has a
        `Type`), verified as over HTTP; or, with the subscription's RawMessageDelivery on, the
        SES event itself. A raw event carries no signature and no topic: what vouches for it is
        the queue's access policy, which must let only the topic send to the queue."""
        document = as_object(_json(body))
        if "Type" in document:
            return await self._act(await self._verify(document), body)
        return Received(ses_events(document, event_id=None, digest=digest_of(body), at=None))

    async def verified(self, body: bytes) -> dict[str, str]:
        """The envelope in `body` (`envelope`'s form) once its signature checks and its topic
        is allowed: 400 malformed, 401 signature, 403 topic, or 503 unavailable when the
        signing certificate could not be fetched, since SNS retries only what failed on our
        side (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html)."""
        return await self._verify(as_object(_json(body)))

    async def _verify(self, document: dict[str, Any]) -> dict[str, str]:
        fields = envelope(document)
        algorithm = _HASHES.get(fields["SignatureVersion"])
        url = fields["SigningCertURL"]
        if algorithm is None or not _CERT_URL.fullmatch(url):
            raise WebhookRefusedError(401, "signature")  # before anything is fetched
        signature = _base64(fields["Signature"])
        key = await self._key(url)
        try:
            key.verify(signature, string_to_sign(fields), padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            raise WebhookRefusedError(401, "signature") from None
        # After the signature, so only SNS's own messages learn whether a topic is allowed.
        if fields["TopicArn"] not in self.topic_arns:
            raise WebhookRefusedError(403, "topic")
        return fields

    async def _key(self, url: str) -> rsa.RSAPublicKey:
        """The public key of the certificate at `url`, fetched once while it stays cached."""
        key = self._keys.get(url)
        if key is None:
            try:
                pem = await self._fetch(url)
            except FetchError as error:
                self._warn(log, "ses.certificate_unavailable", reason=str(error))
                raise WebhookRefusedError(503, "unavailable") from None
            key = public_key(pem)
            if len(self._keys) >= self._cache_size:
                del self._keys[next(iter(self._keys))]  # the oldest
            self._keys[url] = key
        return key

    async def _act(self, fields: dict[str, str], body: bytes) -> Received:
        kind = fields["Type"]
        if kind == "SubscriptionConfirmation":
            await self._confirm(fields)
            return Received()
        if kind == "UnsubscribeConfirmation":
            # Its SubscribeURL would subscribe us again: that is the topic owner's decision.
            return Received()
        return Received(notification_events(fields, body))

    async def _confirm(self, fields: dict[str, str]) -> None:
        """GET the SubscribeURL, which confirms the subscription
        (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html)."""
        url = fields["SubscribeURL"]
        if not sns_url(url):
            raise WebhookRefusedError(400, "malformed")
        try:
            await self._fetch(url)
        except FetchError as error:
            self._warn(log, "ses.confirm_failed", topic=fields["TopicArn"], reason=str(error))
            raise WebhookRefusedError(503, "unavailable") from None
        log_event(log, "ses.subscription_confirmed", topic=fields["TopicArn"])

    async def close(self) -> None:
        if self._own_fetch is not None:
            await self._own_fetch.close()


def topic_arns(parsed: ProviderUrl) -> frozenset[str]:
    """`topic_arns=`: SNS topic ARNs separated by commas; ValueError for one that is not."""
    arns = frozenset(a.strip() for a in parsed.option("topic_arns").split(",") if a.strip())
    for arn in arns:
        if not _TOPIC_ARN.fullmatch(arn):
            raise ValueError(f"ses: topic_arns: {arn!r} is not an SNS topic ARN")
    return arns


def envelope(document: dict[str, Any]) -> dict[str, str]:
    """An SNS message's fields, checked: a known Type and every key it must carry, each a
    string (Lambda's `...Url` spellings read as `...URL`; a null Subject left out); 400
    malformed otherwise."""
    fields = {_ALIASES.get(key, key): value for key, value in document.items()}
    kind = fields.get("Type")
    signed = _SIGNED.get(kind) if isinstance(kind, str) else None
    if signed is None:
        raise _malformed()
    if fields.get("Subject", "") is None:
        del fields["Subject"]
    required = [key for key in signed if key != "Subject"] + list(_UNSIGNED)
    if any(not isinstance(fields.get(key), str) for key in required):
        raise _malformed()
    if not isinstance(fields.get("Subject", ""), str):
        raise _malformed()
    keys = [*signed, *_UNSIGNED]
    return {key: fields[key] for key in keys if key in fields}


def string_to_sign(fields: dict[str, str]) -> bytes:
    """Each signed key present, in order: its name, a newline, its value, a newline."""
    signed = _SIGNED[fields["Type"]]
    return "".join(f"{key}\n{fields[key]}\n" for key in signed if key in fields).encode()


def public_key(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate; 401 signature when it is none.

    The certificate is only loaded, not checked for dates or a chain, as AWS's own validators
    do (aws-php-sns-message-validator, aws-sdk-ruby's MessageVerifier): the trust is in where
    it came from, an https URL on an SNS host whose TLS certificate the fetch verified, not in
    the file, a leaf without its chain. A date check would also refuse messages signed just
    before a certificate expired and still waiting in a queue."""
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise WebhookRefusedError(401, "signature") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRefusedError(401, "signature")
    return key


def sns_url(url: str) -> bool:
    """An https URL on an SNS endpoint with nothing that could make the host fetched differ."""
    if not url.isascii() or any(c.isspace() or c == "\\" for c in url):
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (
        parts.scheme == "https" and parts.netloc.lower() == host and bool(_SNS_HOST.fullmatch(host))
    )


def notification_events(fields: dict[str, str], body: bytes) -> list[ProviderEvent]:
    """The events of a Notification: its Message, an SES event as JSON; none for the notice
    SES sends when the topic is set up; 400 malformed for a Message that is no SES event."""
    message = fields["Message"]
    if message.startswith(_VALIDATED):
        return []
    return ses_events(
        as_object(_json(message)),
        event_id=fields["MessageId"],
        digest=digest_of(body),
        at=timestamp(fields["Timestamp"]),
    )


def _json(text: bytes | str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _malformed() from None


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise WebhookRefusedError(401, "signature") from None


def _malformed() -> WebhookRefusedError:
    return WebhookRefusedError(400, "malformed")
