"""MIME as SMTP clients send it, read into the request POST /api/v1/email takes."""

import base64
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from postroom.domain.errors import InvalidEmailError
from postroom.domain.message import Limits
from postroom.domain.validation import validate_fully
from postroom.smtp.parse import MessageError, parse_message

ENVELOPE = ["ann@example.org"]


def _message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Shop <shop@example.com>")
    message["To"] = headers.pop("To", "Ann Lee <ann@example.org>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def _parse(message: EmailMessage, rcpt: list[str] | None = None) -> dict[str, object]:
    raw = message.as_bytes(policy=SMTP)
    return parse_message(raw, "bounce@example.com", rcpt or ENVELOPE).data


def test_plain_text_message_maps_each_field() -> None:
    """From, To with display names, Subject and the text body become the API's fields."""
    message = _message(Subject="Your order")
    message.set_content("Thanks for your order.\n")
    assert _parse(message) == {
        "from": {"email": "shop@example.com", "name": "Shop"},
        "to": [{"email": "ann@example.org", "name": "Ann Lee"}],
        "subject": "Your order",
        "text": "Thanks for your order.\n",
    }


def test_multipart_alternative_gives_text_and_html() -> None:
    """multipart/alternative: the text part is `text`, the HTML part `html`, no attachments."""
    message = _message()
    message.set_content("Plain words\n")
    message.add_alternative("<p>Rich words</p>\n", subtype="html")
    data = _parse(message)
    assert (data["text"], data["html"]) == ("Plain words\n", "<p>Rich words</p>\n")
    assert "attachments" not in data


def test_mixed_with_attachments_keeps_each_file_byte_for_byte() -> None:
    """multipart/mixed: every attached file, its type and bytes intact."""
    pdf = bytes(range(256)) * 4
    message = _message()
    message.set_content("See attached\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice.pdf")
    message.add_attachment("a,b\n1,2\n", subtype="csv", filename="rows.csv")
    attachments = _parse(message)["attachments"]
    assert isinstance(attachments, list)
    assert [(a["filename"], a["contentType"]) for a in attachments] == [
        ("invoice.pdf", "application/pdf"),
        ("rows.csv", "text/csv"),
    ]
    assert base64.b64decode(attachments[0]["content"]) == pdf
    # A text file travels in MIME's canonical form, lines ending CRLF.
    assert base64.b64decode(attachments[1]["content"]) == b"a,b\r\n1,2\r\n"


def test_related_inline_image_keeps_its_content_id() -> None:
    """multipart/related: an inline image referenced by cid: becomes an attachment with it."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    message = _message()
    message.set_content("Logo below\n")
    message.add_alternative('<img src="cid:logo@shop">', subtype="html")
    html = message.get_payload()[1]  # type: ignore[index]
    html.add_related(png, maintype="image", subtype="png", cid="<logo@shop>", filename="logo.png")
    data = _parse(message)
    assert data["html"] == '<img src="cid:logo@shop">\n'
    (image,) = data["attachments"]  # type: ignore[misc]
    assert (image["contentId"], image["contentType"]) == ("logo@shop", "image/png")
    assert base64.b64decode(image["content"]) == png


def test_encoded_word_headers_and_rfc2231_filenames_are_decoded() -> None:
    """Non-ASCII subjects and names (RFC 2047) and file names (RFC 2231) arrive as text."""
    message = _message(From="Zoë Brontë <zoe@example.com>", Subject="Réservation confirmée ✓")
    message.set_content("Merci\n")
    message.add_attachment(b"x", maintype="application", subtype="pdf", filename="reçu été.pdf")
    raw = message.as_bytes(policy=SMTP)
    assert b"=?utf-8?" in raw
    assert b"filename*=" in raw
    data = parse_message(raw, "", ENVELOPE).data
    assert data["subject"] == "Réservation confirmée ✓"
    assert data["from"] == {"email": "zoe@example.com", "name": "Zoë Brontë"}
    assert data["attachments"][0]["filename"] == "reçu été.pdf"  # type: ignore[index]


def test_raw_utf8_headers_are_read_as_text() -> None:
    """SMTPUTF8 clients send headers as raw UTF-8 (RFC 6532): names and subjects arrive as text,
    and bytes that are not UTF-8 are refused."""
    raw = (
        "From: Zoë <zoë@example.com>\r\nTo: ann@example.org\r\nSubject: Réservation ✓\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Bonjour Zoë\r\n"
    ).encode()
    data = parse_message(raw, "", ENVELOPE).data
    assert data["from"] == {"email": "zoë@example.com", "name": "Zoë"}
    assert (data["subject"], data["text"]) == ("Réservation ✓", "Bonjour Zoë\n")
    with pytest.raises(MessageError, match="not UTF-8"):
        parse_message(b"From: Z\xff <z@example.com>\r\nTo: a@example.org\r\n\r\nx", "", [])


def test_envelope_recipients_missing_from_the_headers_are_bcc() -> None:
    """RCPT TO addresses that To and Cc do not show are the Bcc recipients."""
    message = _message(To="ann@example.org", Cc="Bo <bo@example.org>")
    message.set_content("x")
    rcpt = ["ann@example.org", "BO@example.org", "hidden@example.org"]
    data = _parse(message, rcpt)
    assert data["cc"] == [{"email": "bo@example.org", "name": "Bo"}]
    assert data["bcc"] == ["hidden@example.org"]


def test_reply_to_and_custom_headers_are_kept_and_service_headers_dropped() -> None:
    """Reply-To and X- headers pass through; Date, Message-ID and MIME headers are the
    service's own."""
    message = _message(
        Reply_To="help@example.com",
        X_Campaign="winter",
        Date="Tue, 01 Dec 2026 10:00:00 +0000",
        Message_ID="<m1@example.com>",
    )
    message.set_content("x")
    data = _parse(message)
    assert data["replyTo"] == ["help@example.com"]
    assert data["headers"] == {"X-Campaign": "winter"}


def test_postroom_headers_give_tags_and_metadata() -> None:
    """X-Postroom-Tags (comma-separated) and X-Postroom-Metadata (a JSON object)."""
    message = _message(X_Postroom_Tags="welcome, onboarding", X_Postroom_Metadata='{"user": "42"}')
    message.set_content("x")
    data = _parse(message)
    assert data["tags"] == ["welcome", "onboarding"]
    assert data["metadata"] == {"user": "42"}
    assert "headers" not in data


def test_message_id_is_the_idempotency_key() -> None:
    """The client's Message-ID, without angle brackets; none when it has none."""
    message = _message(Message_ID="<order-7@shop.example.com>")
    message.set_content("x")
    raw = message.as_bytes(policy=SMTP)
    assert parse_message(raw, "", ENVELOPE).message_id == "order-7@shop.example.com"
    del message["Message-ID"]
    assert parse_message(message.as_bytes(policy=SMTP), "", ENVELOPE).message_id is None


def test_missing_from_takes_the_envelope_sender() -> None:
    """A message without From is sent from MAIL FROM, as a relay would stamp it."""
    raw = b"To: ann@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    assert parse_message(raw, "app@example.com", ENVELOPE).data["from"] == "app@example.com"


def test_parsed_request_passes_the_api_validator() -> None:
    """What the parser builds is a request the JSON API's validator accepts as is."""
    message = _message(Subject="Hi", X_Postroom_Tags="t1")
    message.set_content("Hello\n")
    message.add_alternative("<b>Hello</b>", subtype="html")
    message.add_attachment(b"\x00", maintype="application", subtype="octet-stream", filename="a")
    submission = validate_fully(
        _parse(message, ["ann@example.org", "x@example.org"]),
        now=0.0,
        limits=Limits(),
        full_parser=lambda text: (_ for _ in ()).throw(AssertionError(text)),
    )
    assert [a.email for a in submission.email.recipients()] == ["ann@example.org", "x@example.org"]
    assert submission.email.attachments[0].content == b"\x00"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"just some words without any header\r\n", "no header section"),
        (b"From: a@example.com, b@example.com\r\nTo: c@example.org\r\n\r\nx\r\n", "more than one"),
        (b"From: a@example.com\r\nTo: not an address\r\n\r\nx\r\n", "not an address"),
        (
            b"From: a@example.com\r\nTo: c@example.org\r\nX-Postroom-Metadata: [1]\r\n\r\nx\r\n",
            "JSON object",
        ),
        (
            b"From: a@example.com\r\nTo: c@example.org\r\n"
            b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nx\r\n",
            "character set",
        ),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(raw: bytes, says: str) -> None:
    """A message that cannot be mapped is a MessageError saying why, never a crash."""
    with pytest.raises(MessageError, match=says):
        parse_message(raw, "", ENVELOPE)


def test_an_invalid_but_readable_message_is_the_validators_to_refuse() -> None:
    """A readable message with a bad field is refused by the API's own rules, by field."""
    raw = b"From: a@example.com\r\nTo: c@example.org\r\nX-Bad: " + b"v" * 1200 + b"\r\n\r\nx\r\n"
    data = parse_message(raw, "", ENVELOPE).data
    with pytest.raises(InvalidEmailError) as refused:
        validate_fully(data, now=0.0, limits=Limits(), full_parser=lambda text: None)  # type: ignore[arg-type,return-value]
    assert "headers.X-Bad" in refused.value.errors
