"""The SMTP replies, decided by the handler over a stand-in intake (no sockets, no storage)."""

from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session

from postroom.domain.address import AddressError
from postroom.domain.errors import StorageFullError, StorageUnavailableError
from postroom.ports.keys import ApiKey
from postroom.ports.queue import PutOutcome, PutResult
from postroom.services.submit import IdempotencyConflictError, Submitted
from postroom.smtp import auth
from postroom.smtp.handler import SmtpIntake, SubmissionHandler

RAW = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
KEY = ApiKey("key-1", "app", "pr_abc", 0.0, tenant="acme")


class FakeTransport:
    def __init__(self, tls: bool) -> None:
        self.tls = tls

    def get_extra_info(self, name: str) -> Any:
        return object() if name == "sslcontext" and self.tls else None


class FakeServer:
    def __init__(self, tls: bool = False) -> None:
        self.transport = FakeTransport(tls)


def _session(peer: str = "127.0.0.1", key: ApiKey | None = KEY) -> Session:
    session = Session(None)  # type: ignore[arg-type] - the loop is only stored
    session.peer = (peer, 40000)  # type: ignore[assignment]
    session.auth_data = key  # type: ignore[assignment]
    return session


def _handler(submit: Any = None, **changes: Any) -> SubmissionHandler:
    async def stored(data: Any, key: str | None, owner: str, tenant: str) -> Submitted:
        return Submitted(PutResult(PutOutcome.CREATED, "01-id", "queued"))

    def address(text: str) -> str:
        if text.endswith(".test"):
            raise AddressError("reserved name")
        return text.lower()

    values: dict[str, Any] = {
        "submit": submit or stored,
        "check_address": address,
        "max_recipients": 2,
        **changes,
    }
    return SubmissionHandler(SmtpIntake(**values))


def _envelope(*rcpt: str) -> Envelope:
    envelope = Envelope()
    envelope.mail_from = "a@example.com"
    envelope.rcpt_tos = list(rcpt)
    envelope.original_content = RAW
    return envelope


@pytest.mark.parametrize(
    ("peer", "tls", "allowed"),
    [
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("192.0.2.7", False, False),
        ("192.0.2.7", True, True),
    ],
)
def test_auth_is_allowed_on_tls_or_from_loopback_only(peer: str, tls: bool, allowed: bool) -> None:
    """AUTH needs TLS unless the client is on this machine."""
    assert auth.auth_allowed(FakeServer(tls), _session(peer)) is allowed  # type: ignore[arg-type]


async def test_ehlo_hides_auth_and_auth_is_538_on_a_plain_remote_connection() -> None:
    """A plain connection from elsewhere is not offered AUTH, and is refused it if it asks."""
    handler = _handler(authenticate=lambda header: None)
    server, session = FakeServer(), _session("192.0.2.7", key=None)
    lines = ["250-host", "250-SIZE 100", "250-AUTH LOGIN PLAIN", "250 HELP"]
    shown = await handler.handle_EHLO(server, session, Envelope(), "client", lines)  # type: ignore[arg-type]
    assert shown == ["250-host", "250-SIZE 100", "250 HELP"]
    reply = await handler.handle_AUTH(server, session, Envelope(), ["PLAIN", "AHgAeQ=="])  # type: ignore[arg-type]
    assert reply is not None
    assert reply.startswith("538 5.7.11")


async def test_rcpt_refuses_bad_suppressed_and_surplus_recipients() -> None:
    """550 5.1.1 for a refused address, 550 5.7.1 for a suppressed one, 452 4.5.3 past the
    recipient limit; the others are taken."""

    async def blocked(tenant: str, addresses: Any, tags: Any) -> set[int]:
        assert tenant == "acme"
        return {0} if addresses == ["gone@example.org"] else set()

    handler = _handler(blocked=blocked)
    envelope, session = _envelope(), _session()

    async def rcpt(address: str) -> str:
        return await handler.handle_RCPT(FakeServer(), session, envelope, address, [])  # type: ignore[arg-type]

    assert (await rcpt("x@example.test"))[:9] == "550 5.1.1"
    assert (await rcpt("gone@example.org"))[:9] == "550 5.7.1"
    assert (await rcpt("one@example.org"))[:9] == "250 2.1.5"
    assert (await rcpt("two@example.org"))[:9] == "250 2.1.5"
    assert (await rcpt("three@example.org"))[:9] == "452 4.5.3"
    assert envelope.rcpt_tos == ["one@example.org", "two@example.org"]


async def test_a_failed_suppression_lookup_does_not_refuse() -> None:
    """Storage down at RCPT tells nothing: the recipient is taken, the worker checks again."""

    async def down(tenant: str, addresses: Any, tags: Any) -> set[int]:
        raise StorageUnavailableError("down")

    handler = _handler(blocked=down)
    reply = await handler.handle_RCPT(FakeServer(), _session(), _envelope(), "a@example.org", [])  # type: ignore[arg-type]
    assert reply.startswith("250")


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (StorageUnavailableError("down"), "451 4.3.0"),
        (StorageFullError("full"), "452 4.3.1"),
        (IdempotencyConflictError(), "554 5.6.0"),
    ],
)
async def test_data_maps_storage_and_conflicts_to_retry_or_refusal(
    error: Exception, reply: str
) -> None:
    """Storage trouble is a 4xx (the client retries, nothing was stored); a reused
    Message-ID with other content is a 554."""

    async def failing(data: Any, key: str | None, owner: str, tenant: str) -> Submitted:
        raise error

    handler = _handler(submit=failing)
    answer = await handler.handle_DATA(FakeServer(), _session(), _envelope("b@example.org"))  # type: ignore[arg-type]
    assert answer.startswith(reply)


async def test_data_submits_as_the_keys_owner_and_tenant_and_names_the_id() -> None:
    """The parsed request goes to SubmitEmail with the key's id and tenant and the Message-ID;
    the 250 names the stored email's id."""
    seen: list[tuple[Any, ...]] = []

    async def submit(data: Any, key: str | None, owner: str, tenant: str) -> Submitted:
        seen.append((data["subject"], key, owner, tenant))
        return Submitted(PutResult(PutOutcome.CREATED, "01-id", "queued"))

    envelope = _envelope("b@example.org")
    envelope.original_content = b"Message-ID: <m@x.example>\r\n" + RAW
    answer = await _handler(submit=submit).handle_DATA(FakeServer(), _session(), envelope)  # type: ignore[arg-type]
    assert answer == "250 2.0.0 Ok: queued as 01-id"
    assert seen == [("hi", "m@x.example", "key-1", "acme")]


async def test_invalid_email_lists_each_field_in_a_multiline_554() -> None:
    """The validator's errors come back one per line, as printable ASCII."""
    from postroom.domain.errors import InvalidEmailError

    async def refuse(data: Any, key: str | None, owner: str, tenant: str) -> Submitted:
        raise InvalidEmailError({"to[0]": "not valid: «x»", "subject": "too long"})

    answer = await _handler(submit=refuse).handle_DATA(
        FakeServer(),  # type: ignore[arg-type]
        _session(),
        _envelope("b@example.org"),
    )
    assert answer.split("\r\n") == [
        "554-5.6.0 Invalid email:",
        "554-5.6.0 to[0]: not valid: ?x?",
        "554 5.6.0 subject: too long",
    ]
