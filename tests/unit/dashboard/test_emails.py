"""The dashboard's Emails section: reading a search, and what a listed email and a detail hold."""

from postroom.dashboard import emails
from postroom.domain.address import AddressError
from postroom.domain.events import EventType
from postroom.domain.recipients import RecipientState
from postroom.domain.states import State
from postroom.ports.emails import EmailStatus, EmailSummary
from postroom.ports.events import EventRecord
from postroom.ports.queue import Event
from postroom.services.email_list import EmailQuery
from postroom.services.recipients import RecipientReport, Story


def bare(text: str) -> str:
    if "@" not in text:
        raise AddressError("no @")
    return text.lower()


def test_a_search_reads_every_filter_and_treats_empty_as_absent() -> None:
    """State, tag, recipient and time range become the list's query; "" means any."""
    body = {
        "state": "sent",
        "tag": " welcome ",
        "to": "Ann@Example.org",
        "after": "2026-12-01T10:00:00Z",
        "before": "",
    }
    read = emails.read_search(body, bare)
    assert not isinstance(read, str), read
    query, cursor, limit = read
    assert query == EmailQuery(State.SENT, "welcome", 1_796_119_200.0, None, "ann@example.org")
    assert (cursor, limit) == ("", emails.PAGE)
    assert emails.read_search({}, bare) == (EmailQuery(), "", emails.PAGE)


def test_a_bad_search_says_what_is_wrong() -> None:
    """An unknown state, a bad time, an address that is none, a limit out of range."""
    assert "state" in str(emails.read_search({"state": "lost"}, bare))
    assert "RFC 3339" in str(emails.read_search({"after": "yesterday"}, bare))
    assert "address" in str(emails.read_search({"to": "nobody"}, bare))
    assert "limit" in str(emails.read_search({"limit": 0}, bare))
    assert "cursor" in str(emails.read_search({"cursor": 5}, bare))


def test_a_listed_email_holds_no_address_or_subject() -> None:
    found = emails.summary_json(EmailSummary("e1", State.SENT, 0.0, 0.0, ("a",), "mailgun"))
    assert set(found) == {"id", "status", "createdAt", "sendAt", "provider"}


def test_a_detail_holds_the_recipients_and_attempts_but_no_reason() -> None:
    """Each attempt with its outcome and code; a reason (a provider's text) is left out."""
    attempt = Event(1.0, State.SENDING, "mailgun", "Mailgun said: ann@x.org?", "down", "http_503")
    sent = Event(2.0, State.SENT, "sendgrid", "sg-1", "sent", "http_202")
    status = EmailStatus("e1", State.SENT, 0.0, 0.0, 2, (attempt, sent), "key1")
    delivered = EventRecord("sendgrid", "d1", EventType.DELIVERED, 3.0, 3.0)
    state = RecipientState(EventType.DELIVERED, EventType.DELIVERED)
    story = Story([RecipientReport("ann@example.org", state, [delivered])], "delivered", None)
    found = emails.detail_json(status, story)
    assert (found["status"], found["delivery"]) == ("delivered", "sent")
    assert [(e["provider"], e["outcome"], e["code"]) for e in found["events"]] == [
        ("mailgun", "down", "http_503"),
        ("sendgrid", "sent", "http_202"),
    ]
    assert "Mailgun said" not in str(found)
    (recipient,) = found["recipients"]
    assert (recipient["address"], recipient["state"]) == ("ann@example.org", "delivered")
    assert [e["type"] for e in recipient["events"]] == ["delivered"]


async def test_an_email_of_another_tenant_is_not_found() -> None:
    """Its detail answers 404, as for an id that names no email; the sender's tenant sees it,
    also by the id pasted in capitals with spaces around; what is no id at all is 400."""
    from postroom.dashboard.parts import DashboardParts

    status = EmailStatus("01a2324e-d587-7d1d-a252-9b9cd7602241", State.SENT, 0.0, 0.0, 1, ())

    async def found(email_id: str) -> EmailStatus | None:
        return status if email_id == status.id else None

    async def tenant_of(_: EmailStatus) -> str | None:
        return "shop"

    async def never(*_: object) -> int:
        raise AssertionError("not called")

    parts = DashboardParts(
        stats=never,  # type: ignore[arg-type]
        dead=None,  # type: ignore[arg-type]
        count_dead=never,
        redrive_ids=never,
        redrive_all=never,
        circuits=never,  # type: ignore[arg-type]
        email_status=found,
        email_tenant=tenant_of,
    )
    assert (await emails.detail(parts, "other", status.id)).status_code == 404
    assert (await emails.detail(parts, "shop", "not-an-id")).status_code == 400
    assert (await emails.detail(parts, "shop", f" {status.id.upper()} ")).status_code == 200
    shown = await emails.detail(parts, "shop", status.id)
    assert shown.status_code == 200
    assert b'"recipients":null' in bytes(shown.body)
