"""The provider contract suite's fixtures: for each provider, how to reach its local server,
how to make that server fail each way, and what it received, normalised to one shape (`Seen`).

Adding a provider means adding a Target here (see docs/providers/README.md). Where a provider
cannot express something, its `cannot` says why, and the contract test is skipped with that
reason.
"""

import base64
import email
import email.policy
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import botocore.session
import idna

from postroom.domain.errors import (
    MisconfiguredError,
    OutcomeUnknownError,
    PermanentError,
    ProviderDownError,
    ProviderError,
    ThrottledError,
)
from postroom.simulator.behaviour import Simulator
from tests.conftest import RunningSimulator
from tests.integration.providers.conftest import SesRecorder, SmtpServer
from tests.support.moto import MotoServer
from tests.support.server import free_port

# Every error class of docs/design.md, as the contract suite provokes them.
FAILURES = ("permanent", "misconfigured", "throttled", "down", "timeout", "refused")
# Every way of answering 200 that a client cannot read (docs/providers/README.md).
AMBIGUOUS = ("empty", "garbage", "cut")
CORRELATION_KEY = "postroom_id"
CORRELATION_HEADER = "X-Postroom-Id"
Person = tuple[str, str]  # (display name, address with its domain in Unicode)


@dataclass
class Seen:
    """What a provider's server received for one email, in one shape for every provider."""

    sender: Person
    to: list[Person]
    cc: list[Person]
    bcc: list[str]  # addresses only: no recipient ever sees a Bcc name
    reply_to: list[Person]
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    attachments: list[tuple[str, str, str]]  # (filename, content type, sha256)
    inline: list[tuple[str, str, str]]  # (content id, content type, sha256)
    tags: list[str]
    metadata: dict[str, str]  # the user's, without the correlation id
    correlation_id: str


@dataclass(frozen=True)
class Failure:
    """The provider URL to send with once the server was made to fail, and what must follow."""

    url: str
    error: type[ProviderError]
    code: str = ""  # when the class alone does not say it ("timeout", "connection")
    retry_after: float | None = None


class Target(ABC):
    """One provider and its local server."""

    name: str
    # Why this provider cannot express a feature or fail a way of FAILURES; absent: it can.
    cannot: dict[str, str] = {}
    # Where the correlation id goes: "metadata" (the provider's custom data) or "header".
    correlation_in = "metadata"

    @abstractmethod
    def url(self, **options: str) -> str:
        """The provider URL pointing at the local server."""

    @abstractmethod
    def count(self) -> int:
        """How many emails the server took."""

    @abstractmethod
    def received(self) -> Seen:
        """The one email the server took, normalised."""

    @abstractmethod
    def fail(self, kind: str) -> Failure:
        """Make the server fail the way `kind` (one of FAILURES) names."""

    def answer_ambiguously(self, kind: str) -> None:
        """Make the server take the email, then answer a 200 that cannot be read (one of
        AMBIGUOUS); a target that cannot says why under `cannot["ambiguous"]`."""
        raise NotImplementedError(self.name)


# -- normalising


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def unicode_address(address: str) -> str:
    """The address with an A-label domain turned back to Unicode, as the Email holds it."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{idna.decode(domain)}" if "xn--" in domain.lower() else address


def people(*values: str) -> list[Person]:
    """Header-style mailbox lists ("Name <a@b>, c@d"), parsed."""
    return [(name, unicode_address(address)) for name, address in getaddresses(list(values))]


def _split_metadata(metadata: dict[str, str]) -> tuple[dict[str, str], str]:
    mine = dict(metadata)
    return mine, mine.pop(CORRELATION_KEY, "")


def from_mailgun(fields: dict[str, list[str]], files: list[dict[str, Any]]) -> Seen:
    headers = {name[2:]: values[0] for name, values in fields.items() if name.startswith("h:")}
    metadata, correlation = _split_metadata(
        {name[2:]: values[0] for name, values in fields.items() if name.startswith("v:")}
    )
    return Seen(
        sender=people(*fields["from"])[0],
        to=people(*fields.get("to", [])),
        cc=people(*fields.get("cc", [])),
        bcc=[address for _, address in people(*fields.get("bcc", []))],
        reply_to=people(headers.pop("Reply-To")) if "Reply-To" in headers else [],
        subject=fields.get("subject", [""])[0],
        text=fields.get("text", [""])[0],
        html=fields.get("html", [""])[0],
        headers=headers,
        attachments=_mailgun_files(files, "attachment"),
        inline=_mailgun_files(files, "inline"),
        tags=fields.get("o:tag", []),
        metadata=metadata,
        correlation_id=correlation,
    )


def _mailgun_files(files: list[dict[str, Any]], kind: str) -> list[tuple[str, str, str]]:
    # Mailgun names an inline file by its Content-ID.
    return [(f["filename"], f["content_type"], f["sha256"]) for f in files if f["field"] == kind]


def from_sendgrid(payload: dict[str, Any]) -> Seen:
    envelope = payload["personalizations"][0]
    reply_to = [payload["reply_to"]] if "reply_to" in payload else payload.get("reply_to_list", [])
    content = {part["type"]: part["value"] for part in payload["content"]}
    files = payload.get("attachments", [])
    metadata, correlation = _split_metadata(payload.get("custom_args", {}))
    return Seen(
        sender=_object(payload["from"]),
        to=[_object(o) for o in envelope["to"]],
        cc=[_object(o) for o in envelope.get("cc", [])],
        bcc=[unicode_address(o["email"]) for o in envelope.get("bcc", [])],
        reply_to=[_object(o) for o in reply_to],
        subject=payload["subject"],
        text=content.get("text/plain", ""),
        html=content.get("text/html", ""),
        headers=payload.get("headers", {}),
        attachments=[_sendgrid_file(f, "filename") for f in files if "content_id" not in f],
        inline=[_sendgrid_file(f, "content_id") for f in files if "content_id" in f],
        tags=payload.get("categories", []),
        metadata=metadata,
        correlation_id=correlation,
    )


def _object(obj: dict[str, str]) -> Person:
    return (obj.get("name", ""), unicode_address(obj["email"]))


def _sendgrid_file(item: dict[str, str], name: str) -> tuple[str, str, str]:
    return (item[name], item["type"], digest(base64.b64decode(item["content"])))


def from_postmark(payload: dict[str, Any]) -> Seen:
    files = payload.get("Attachments", [])
    metadata, correlation = _split_metadata(payload.get("Metadata", {}))
    return Seen(
        sender=people(payload["From"])[0],
        to=people(payload.get("To", "")) if payload.get("To") else [],
        cc=people(payload["Cc"]) if payload.get("Cc") else [],
        bcc=[a for _, a in people(payload["Bcc"])] if payload.get("Bcc") else [],
        reply_to=people(payload["ReplyTo"]) if payload.get("ReplyTo") else [],
        subject=payload.get("Subject", ""),
        text=payload.get("TextBody", ""),
        html=payload.get("HtmlBody", ""),
        headers={h["Name"]: h["Value"] for h in payload.get("Headers", [])},
        attachments=[_postmark_file(f, f["Name"]) for f in files if "ContentID" not in f],
        inline=[
            _postmark_file(f, f["ContentID"].removeprefix("cid:"))
            for f in files
            if "ContentID" in f
        ],
        tags=[payload["Tag"]] if payload.get("Tag") else [],
        metadata=metadata,
        correlation_id=correlation,
    )


def _postmark_file(item: dict[str, str], name: str) -> tuple[str, str, str]:
    return (name, item["ContentType"], digest(base64.b64decode(item["Content"])))


def parse_mime(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def from_mime(
    message: EmailMessage,
    bcc: list[str],
    tags: list[str],
    metadata: dict[str, str],
    correlation_id: str = "",
) -> Seen:
    """A raw message and what travelled beside it (envelope, tags, metadata)."""
    return Seen(
        sender=_header_people(message, "From")[0],
        to=_header_people(message, "To"),
        cc=_header_people(message, "Cc"),
        bcc=[unicode_address(a) for a in bcc],
        reply_to=_header_people(message, "Reply-To"),
        subject=str(message["Subject"]),
        text=_body(message, "plain"),
        html=_body(message, "html"),
        headers={name: str(value) for name, value in message.items()},
        attachments=_mime_parts(message, inline=False),
        inline=_mime_parts(message, inline=True),
        tags=tags,
        metadata=metadata,
        correlation_id=correlation_id or str(message.get(CORRELATION_HEADER, "")),
    )


def _header_people(message: EmailMessage, name: str) -> list[Person]:
    header = message[name]
    if header is None:
        return []
    return [(a.display_name, unicode_address(a.addr_spec)) for a in header.addresses]


def _body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    # A received part keeps the wire's CRLF and a final line end the sender did not write.
    return "" if part is None else part.get_content().replace("\r\n", "\n").rstrip("\n")


def _mime_parts(message: EmailMessage, inline: bool) -> list[tuple[str, str, str]]:
    found = []
    for part in message.walk():
        cid = part.get("Content-ID")
        if part.is_multipart() or bool(cid) != inline or not (cid or part.get_filename()):
            continue
        name = str(cid).strip("<>") if inline else str(part.get_filename())
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        found.append((name, part.get_content_type(), digest(content)))
    return found


# -- the targets


@dataclass
class SimulatorTarget(Target):
    """Mailgun, SendGrid or Postmark, served by the provider simulator over real HTTP."""

    name: str
    simulator: RunningSimulator
    credential: str
    permanent_status: int = 400

    def url(self, **options: str) -> str:
        query = "&".join(
            f"{k}={v}"
            for k, v in {"base_url": self.simulator.url, "timeout": "5", **options}.items()
        )
        return f"{self.name}://{self.credential}?{query}"

    def _sim(self) -> Simulator:
        return self.simulator.simulator

    def count(self) -> int:
        return sum(1 for a in self._sim().accepted if a.provider == self.name)

    def received(self) -> Seen:
        [accepted] = [a for a in self._sim().accepted if a.provider == self.name]
        if self.name == "mailgun":
            return from_mailgun(accepted.payload, accepted.files)
        if self.name == "sendgrid":
            return from_sendgrid(accepted.payload)
        return from_postmark(accepted.payload)

    def answer_ambiguously(self, kind: str) -> None:
        self._sim().behaviour.update({"ambiguous": kind})

    def fail(self, kind: str) -> Failure:
        behaviour = self._sim().behaviour
        if kind == "permanent":
            behaviour.fail_status = self.permanent_status
            return Failure(self.url(), PermanentError)
        if kind == "misconfigured":
            self._sim().api_key = "a-key-nobody-was-given"
            return Failure(self.url(), MisconfiguredError)
        if kind == "throttled":
            behaviour.throttle_retry_after = 7
            return Failure(self.url(), ThrottledError, retry_after=7.0)
        if kind == "down":
            behaviour.outage = True
            return Failure(self.url(), ProviderDownError, "http_503")
        if kind == "timeout":
            # Connected and sent, then no answer: the provider may have the email.
            behaviour.hang = True
            return Failure(self.url(timeout="0.3"), OutcomeUnknownError, "unknown_timeout")
        closed = f"http://127.0.0.1:{free_port()}"
        return Failure(self.url(base_url=closed), ProviderDownError, "connection")


@dataclass
class SesTarget(Target):
    """SES: moto's server behind the recording proxy, which keeps what the SDK sent."""

    recorder: SesRecorder
    moto: MotoServer
    silent_port: int
    name = "ses"
    cannot = {
        "ambiguous-cut": "botocore reads the body before it hands over the status, so a body "
        "cut after the head is a connection failure without its status (docs/providers/README.md)",
    }

    def __post_init__(self) -> None:
        # Moto refuses unverified senders, as SES does.
        client = botocore.session.get_session().create_client(
            "sesv2", region_name="us-east-1", endpoint_url=self.moto.url
        )
        client.create_email_identity(EmailIdentity="example.com")

    def url(self, **options: str) -> str:
        query = "&".join(
            f"{k}={v}"
            for k, v in {"base_url": self.recorder.url, "timeout": "5", **options}.items()
        )
        return f"ses://us-east-1?{query}"

    def count(self) -> int:
        return len(self.moto.raw_messages())

    def received(self) -> Seen:
        params = self.recorder.params()
        tags = {t["Name"]: t["Value"] for t in params.get("EmailTags", [])}
        correlation = tags.pop(CORRELATION_KEY, "")
        # Tags go as {Name: tag, Value: "true"}, metadata as {Name: key, Value: value}.
        metadata = {name: value for name, value in tags.items() if value != "true"}
        return from_mime(
            parse_mime(self.recorder.raw()),
            bcc=params["Destination"].get("BccAddresses", []),
            tags=[name for name, value in tags.items() if value == "true"],
            metadata=metadata,
            correlation_id=correlation,
        )

    def answer_ambiguously(self, kind: str) -> None:
        self.recorder.ambiguous = kind

    def fail(self, kind: str) -> Failure:
        if kind == "permanent":
            self.moto.reset()  # the sender is no longer verified: SES's MessageRejected
            return Failure(self.url(), PermanentError, "ses_MessageRejected")
        canned = {
            "misconfigured": (403, "AccessDeniedException", MisconfiguredError),
            # SES sends no Retry-After: the router's own backoff applies.
            "throttled": (429, "TooManyRequestsException", ThrottledError),
            "down": (503, "ServiceUnavailable", ProviderDownError),
        }
        if kind in canned:
            status, code, error = canned[kind]
            self.recorder.canned = (status, code, "simulated")
            return Failure(self.url(), error, f"ses_{code}")
        if kind == "timeout":
            silent = f"http://127.0.0.1:{self.silent_port}"
            url = self.url(base_url=silent, timeout="0.3")
            return Failure(url, OutcomeUnknownError, "unknown_timeout")
        closed = f"http://127.0.0.1:{free_port()}"
        return Failure(self.url(base_url=closed), ProviderDownError, "connection")


@dataclass
class SmtpTarget(Target):
    """An SMTP relay: aiosmtpd, AUTH offered in the clear."""

    server: SmtpServer
    silent_port: int
    name = "smtp"
    correlation_in = "header"
    cannot = {
        "tags": "SMTP has no standard place for tags (docs/providers/smtp.md)",
        "metadata": "SMTP has no standard place for metadata (docs/providers/smtp.md)",
        "down": "an SMTP 5xx refuses the email (permanent); a relay that is down refuses the "
        "connection or does not answer, which the refused and timeout cases cover",
        "ambiguous": "an SMTP answer is one reply line, read whole or not at all; a 250 then a "
        "dropped connection is test_smtp.py's test_250_then_a_dropped_connection_is_sent_once",
    }

    def url(self, **options: str) -> str:
        return self.server.url(tls="none", auth=True, **{"timeout": "5", **options})

    def count(self) -> int:
        return len(self.server.handler.messages)

    def received(self) -> Seen:
        [got] = self.server.handler.messages
        message = parse_mime(got.data)
        visible = {a.addr_spec for name in ("To", "Cc") for a in _addresses(message, name)}
        bcc = [rcpt for rcpt in got.rcpt_tos if rcpt not in visible]
        return from_mime(message, bcc=bcc, tags=[], metadata={})

    def fail(self, kind: str) -> Failure:
        handler = self.server.handler
        if kind == "permanent":
            handler.data_reply = "554 5.7.1 Message refused"
            return Failure(self.url(), PermanentError, "smtp_554")
        if kind == "misconfigured":
            url = self.server.url(tls="none", auth=True, password="wrong", timeout="5")
            return Failure(url, MisconfiguredError, "smtp_535")
        if kind == "throttled":
            # SMTP has no Retry-After: the router's own backoff applies.
            handler.data_reply = "451 4.3.0 Try again later"
            return Failure(self.url(), ThrottledError, "smtp_451")
        if kind == "timeout":
            url = f"smtp://127.0.0.1:{self.silent_port}?tls=none&timeout=0.3"
            return Failure(url, ProviderDownError, "timeout")
        url = f"smtp://127.0.0.1:{free_port()}?tls=none&timeout=5"
        return Failure(url, ProviderDownError, "connection")


def _addresses(message: EmailMessage, name: str) -> tuple[Any, ...]:
    header = message[name]
    return () if header is None else tuple(header.addresses)


@dataclass
class OutboxTarget(Target):
    """The outbox: a temporary folder."""

    folder: Path
    name = "outbox"
    correlation_in = "header"
    cannot = {
        kind: "a folder has no credentials, rate limits or network: it takes every email"
        for kind in ("permanent", "misconfigured", "throttled", "timeout", "refused", "ambiguous")
    }

    def url(self, **options: str) -> str:
        return f"outbox://{self.folder}"

    def count(self) -> int:
        return len(list(self.folder.glob("*.eml"))) if self.folder.exists() else 0

    def received(self) -> Seen:
        [eml] = self.folder.glob("*.eml")
        side = json.loads(eml.with_suffix(".json").read_text())
        return from_mime(
            parse_mime(eml.read_bytes()),
            bcc=side["bcc"],
            tags=side["tags"],
            metadata=side["metadata"],
        )

    def fail(self, kind: str) -> Failure:
        # "down": the folder cannot be written (here, a file stands where it should be).
        blocker = self.folder.parent / "not-a-folder"
        blocker.write_text("")
        return Failure(f"outbox://{blocker}/outbox", ProviderDownError, "outbox_write")
