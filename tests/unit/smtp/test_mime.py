"""The fast MIME path gives exactly what the `email` package's reading gives, or steps aside."""

import base64
import os
from collections.abc import Callable
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.smtp import fields, mime
from postroom.smtp.parse import MessageError, ParsedMessage, parse_message, parse_with_email

ENVELOPE = ["ann@example.org", "hidden@example.org"]


def _both(raw: bytes) -> tuple[object, object]:
    """(the fast path's answer or None, the email package's) for one message; a MessageError
    stands for itself by its text."""

    def outcome(read: object) -> object:
        try:
            return read()  # type: ignore[operator]
        except MessageError as error:
            return f"MessageError: {error}"

    fast = outcome(lambda: mime.parse(raw, "bounce@example.com", ENVELOPE))
    slow = outcome(lambda: parse_with_email(raw, "bounce@example.com", ENVELOPE))
    if isinstance(slow, ParsedMessage):
        slow = (slow.data, slow.message_id)
    return fast, slow


def _same(raw: bytes) -> bool:
    """True when the fast path read the message; fails when it read it otherwise."""
    fast, slow = _both(raw)
    if fast is None:
        return False
    assert fast == slow
    return True


def _shop(**headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Shop Ltd <shop@example.com>")
    message["To"] = headers.pop("To", "Ann Lee <ann@example.org>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def _alternative(**headers: str) -> EmailMessage:
    message = _shop(**headers)
    message.set_content("Plain words\n")
    message.add_alternative("<p>Rich words</p>\n", subtype="html")
    return message


def _mixed() -> EmailMessage:
    message = _alternative(Subject="Your order 7 has shipped", X_Postroom_Tags="shipping")
    message["Message-ID"] = "<order-7.a1@shop.example.com>"
    pdf = os.urandom(1024)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment("a,b\n1,2\n", subtype="csv", filename="rows.csv")
    return message


def _related() -> EmailMessage:
    message = _shop()
    message.set_content("Logo below\n")
    message.add_alternative('<img src="cid:logo@shop">', subtype="html")
    html = message.get_payload()[1]  # type: ignore[index]
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    html.add_related(png, maintype="image", subtype="png", cid="<logo@shop>", filename="logo.png")
    return message


def _legacy() -> Message:
    """The older email.mime classes, as Django and many libraries build a message."""
    message = MIMEMultipart("mixed")
    message["From"] = "Hotel <hotel@example.com>"
    message["To"] = "ann@example.org, Bo <bo@example.org>"
    message["Cc"] = "<cc@example.org>"
    message["Reply-To"] = "help@example.com"
    message["Subject"] = "Booking 42"
    message["X-Campaign"] = "winter  sale\t2026"
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Caf\xe9 au lait\n", "plain", "iso-8859-1"))
    alternative.attach(MIMEText("<p>Café</p>\n", "html", "utf-8"))
    message.attach(alternative)
    attachment = MIMEApplication(b"\x00\x01" * 300, Name="data.bin")
    attachment["Content-Disposition"] = 'attachment; filename="data.bin"'
    message.attach(attachment)
    return message


def _bytes(message: Message) -> bytes:
    """As a client sends it: with the message's own policy, lines ending CRLF."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


FAST = {
    "the benchmark's order confirmation": _bytes(_mixed()),
    "multipart/alternative": _bytes(_alternative(Subject="Hi")),
    "multipart/related with a Content-ID": _bytes(_related()),
    "email.mime classes, Latin-1 and UTF-8 text": _bytes(_legacy()),
    "a single text part": b"From: a@example.com\r\nTo: c@example.org\r\nSubject: hi\r\n\r\nx\r\n",
    "no From": b"To: ann@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
    "two From addresses": b"From: a@example.com, b@example.com\r\nTo: c@example.org\r\n\r\nx\r\n",
    "a To that is no address": b"From: a@example.com\r\nTo: not an address\r\n\r\nx\r\n",
    "metadata that is no object": (
        b"From: a@example.com\r\nTo: c@example.org\r\nX-Postroom-Metadata: [1]\r\n\r\nx\r\n"
    ),
    "an unknown charset": (
        b"From: a@example.com\r\nTo: c@example.org\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nx\r\n"
    ),
    "bytes that are not the charset's": (
        b"From: a@example.com\r\nTo: c@example.org\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"caf\xe9\r\n"
    ),
    "tags, metadata and custom headers": _bytes(
        _alternative(
            X_Postroom_Tags="welcome, onboarding",
            X_Postroom_Metadata='{"user": "42"}',
            X_Campaign="winter",
            Date="Tue, 01 Dec 2026 10:00:00 +0000",
        )
    ),
    "an encoded subject and name": _bytes(
        _alternative(From="Zoë Brontë <zoe@example.com>", Subject="Réservation confirmée ✓")
    ),
    "a quoted display name": _bytes(_alternative(To='"Lee, Ann" <ann@example.org>')),
    "a group": b"From: a@example.com\r\nTo: friends: c@example.org, d@example.org;\r\n\r\nx\r\n",
    "a long folded subject": _bytes(_alternative(Subject="word " * 40)),
    "an IDN domain in ASCII": _bytes(_alternative(To="Ann <ann@xn--bcher-kva.example>")),
}

STEPS_ASIDE = {
    "raw UTF-8 headers": "From: Zoë <zoë@example.com>\r\nTo: a@example.org\r\n\r\nx\r\n".encode(),
    "no header section": b"just some words without any header\r\n",
    "bare LF line ends": b"From: a@example.com\nTo: c@example.org\n\nx\n",
    "an RFC 2231 file name": b"",  # built below
    "an attached message": b"",  # built below
    "a multipart without its close delimiter": (
        b"From: a@example.com\r\nTo: c@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    ),
    "base64 with broken padding": (
        b"From: a@example.com\r\nTo: c@example.org\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"QUJD\r\nRA\r\n"
    ),
}


def _rfc2231() -> bytes:
    message = _alternative()
    message.add_attachment(b"x", maintype="application", subtype="pdf", filename="reçu été.pdf")
    return _bytes(message)


def _attached_message() -> bytes:
    message = _alternative()
    message.add_attachment(_alternative(Subject="inner"))
    return _bytes(message)


STEPS_ASIDE["an RFC 2231 file name"] = _rfc2231()
STEPS_ASIDE["an attached message"] = _attached_message()


@pytest.mark.parametrize("raw", FAST.values(), ids=FAST.keys())
def test_the_fast_path_reads_common_messages_as_the_email_package_does(raw: bytes) -> None:
    """The shapes clients send are read by the fast path, to the same request or refusal."""
    assert _same(raw)


@pytest.mark.parametrize("raw", STEPS_ASIDE.values(), ids=STEPS_ASIDE.keys())
def test_the_fast_path_leaves_unusual_messages_to_the_email_package(raw: bytes) -> None:
    """Shapes the fast path does not know are the email package's, and parse_message gives
    its answer."""
    fast, slow = _both(raw)
    assert fast is None
    if isinstance(slow, str):
        with pytest.raises(MessageError) as refused:
            parse_message(raw, "bounce@example.com", ENVELOPE)
        assert slow == f"MessageError: {refused.value}"
    else:
        parsed = parse_message(raw, "bounce@example.com", ENVELOPE)
        assert slow == (parsed.data, parsed.message_id)


def test_the_benchmark_message_takes_the_fast_path_with_its_attachment_intact() -> None:
    """The order confirmation keeps its text, HTML, file and tag through the fast path."""
    message = _mixed()
    raw = _bytes(message)
    found = mime.parse(raw, "", ENVELOPE)
    assert found is not None
    data, message_id = found
    assert message_id == "order-7.a1@shop.example.com"
    assert (data["text"], data["html"], data["tags"]) == (
        "Plain words\n",
        "<p>Rich words</p>\n",
        ["shipping"],
    )
    pdf = message.get_payload()[1].get_content()  # type: ignore[index]
    assert base64.b64decode(data["attachments"][0]["content"]) == pdf


# -- generated: every piece the fast path reads by itself, against the email package

_WORD = st.text("abcXYZ019!#$%&'+-.^_`{|}~", min_size=1, max_size=8)
_QUOTED = st.text("ab Z09 \t!#$%&'()*+,-./:;=?@[]^_`{|}~", max_size=10)
_ATOM = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)


@st.composite
def _parameterized(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text/plain", "TEXT/Html", "application/pdf", "image/x.y+z"]))
    params = []
    for name in draw(st.lists(st.sampled_from(["charset", "name", "x-a", "Format"]), max_size=3)):
        value = draw(st.one_of(_WORD, _QUOTED.map(lambda q: f'"{q}"')))
        space = draw(st.sampled_from(["", " ", "\t", "  "]))
        params.append(f"{space};{draw(st.sampled_from(['', ' ', '  ']))}{name}={value}")
    return kind + "".join(params) + draw(st.sampled_from(["", " "]))


@given(_parameterized())
@settings(max_examples=300, deadline=None)
def test_content_type_parameters_are_read_as_the_email_package_reads_them(value: str) -> None:
    """Type and parameters of a simple Content-Type, as get_content_type and get_param."""
    try:
        kind, params = mime.parameterized(value)
    except Exception:
        return
    message = EmailMessage(policy=default)
    message["Content-Type"] = value
    assert kind == message.get_content_type()
    for name, found in params.items():
        assert found == message.get_param(name)
    for name in ("charset", "name", "x-a", "format"):
        assert params.get(name) == message.get_param(name)


def _outcome(read: Callable[[], object]) -> object:
    """What a call gives: its value, or the kind of exception it raises (the email package
    raises on some malformed headers, and the fast path must raise alike)."""
    try:
        return read()
    except Exception as error:
        return type(error)


@given(st.text(" \tabcXYZ019!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", max_size=30))
@settings(max_examples=300, deadline=None)
def test_plain_header_text_is_what_the_header_registry_gives(value: str) -> None:
    """A plain custom header, Subject or Message-ID keeps the text the registry would give."""
    for name in ("X-Campaign", "Subject", "Content-ID", "Message-ID", "Content-Transfer-Encoding"):
        fast = _outcome(lambda: mime.text(name, value))  # noqa: B023 - called at once
        assert fast == _outcome(lambda: str(fields.REGISTRY(name, value)))  # noqa: B023


@st.composite
def _mailbox(draw: st.DrawFn) -> str:
    local, domain = (".".join(draw(st.lists(_ATOM, min_size=1, max_size=2))) for _ in "ld")
    spec = f"{local}@{domain}"
    name = " ".join(draw(st.lists(_ATOM, max_size=3)))
    return draw(st.sampled_from([spec, f"<{spec}>", f"{name} <{spec}>" if name else spec]))


@given(st.lists(_mailbox(), min_size=1, max_size=3), st.sampled_from([",", ", ", " , "]))
@settings(max_examples=300, deadline=None)
def test_simple_address_lists_are_read_as_the_header_registry_reads_them(
    mailboxes: list[str], comma: str
) -> None:
    """Display names and addresses of simple To lists, as the registry's Address objects."""
    value = comma.join(mailboxes)
    part = mime.Part([("To", value)], "text/plain", {}, b"", None)
    try:
        fast = mime.addresses(part, "To")
    except MessageError as error:
        fast = [str(error)]
    header = fields.REGISTRY("To", value)
    try:
        slow = [fields.address("To", a.display_name, a.addr_spec) for a in header.addresses]  # type: ignore[attr-defined]
    except MessageError as error:
        slow = [str(error)]
    assert fast == slow


@st.composite
def _leaf(draw: st.DrawFn) -> Message:
    kind = draw(st.sampled_from(["plain", "html", "csv", "pdf"]))
    payload = draw(st.text("ab é\n\r.-=", max_size=40))
    if kind == "pdf":
        part: Message = MIMEApplication(payload.encode(), "pdf")
    else:
        part = MIMEText(payload, kind, draw(st.sampled_from(["utf-8", "iso-8859-1"])))
    if draw(st.booleans()):
        part["Content-Disposition"] = draw(
            st.sampled_from(["attachment", 'attachment; filename="f.txt"', "inline"])
        )
    if draw(st.booleans()):
        part["Content-ID"] = "<c1@x>"
    return part


def _tree(depth: int) -> st.SearchStrategy[Message]:
    if depth == 0:
        return _leaf()
    return st.one_of(
        _leaf(),
        st.tuples(
            st.sampled_from(["mixed", "alternative", "related"]),
            st.lists(_tree(depth - 1), min_size=1, max_size=3),
        ).map(lambda kind_parts: MIMEMultipart(kind_parts[0], _subparts=kind_parts[1])),
    )


@given(_tree(2), st.sampled_from(["Hi", "word " * 20, "Réservation"]))
@settings(max_examples=200, deadline=None)
def test_generated_mime_trees_read_the_same_by_either_reader(root: Message, subject: str) -> None:
    """Any tree of text, HTML and file parts in mixed, alternative and related multiparts."""
    root["From"] = "Shop <shop@example.com>"
    root["To"] = "ann@example.org"
    root["Subject"] = Header(subject, "utf-8")
    fast, slow = _both(_bytes(root))
    assert fast is None or fast == slow
