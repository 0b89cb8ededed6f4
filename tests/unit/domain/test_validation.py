"""From a decoded request to an Email: what is accepted, and every reason a field is not."""

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.errors import InvalidEmailError
from postroom.domain.message import Address, Limits
from postroom.domain.quick import Seen, quick_submission
from postroom.domain.rules import Submission
from postroom.domain.validation import FIELDS, validate_fully, validate_submission, warnings

NOW = 1_800_000_000.0
LIMITS = Limits()


def validate(data: Any) -> Submission:
    return validate_submission(data, now=NOW, limits=LIMITS, full_parser=parse_with_email_validator)


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidEmailError) as caught:
        validate(data)
    return caught.value.errors


def minimal(**extra: Any) -> dict[str, Any]:
    return {"from": "shop@example.com", "to": ["ann@example.org"], **extra}


def test_origin_request_is_accepted() -> None:
    """The origin contract's fields alone make a valid email; body is the text part."""
    submission = validate(
        minimal(cc=["c@example.org"], bcc=["b@example.org"], subject="Hi", body="Hello")
    )
    email = submission.email
    assert email.sender == Address("shop@example.com")
    assert [a.email for a in email.recipients()] == [
        "ann@example.org",
        "c@example.org",
        "b@example.org",
    ]
    assert (email.subject, email.text, submission.send_at) == ("Hi", "Hello", None)


def test_extended_fields_are_carried() -> None:
    """Names, html, reply-to, headers, attachments, tags and metadata all reach the Email."""
    submission = validate(
        minimal(
            to=[{"email": "ann@example.org", "name": "Ann Lee"}, "Bob <bob@example.org>"],
            html="<p>Hi</p>",
            text="Hi",
            replyTo="help@example.com",
            headers={"X-Campaign": "autumn"},
            attachments=[{"filename": "a.txt", "contentType": "text/plain", "content": "aGk="}],
            tags=["receipt"],
            metadata={"order": "42"},
        )
    )
    email = submission.email
    assert email.to == (Address("ann@example.org", "Ann Lee"), Address("bob@example.org", "Bob"))
    assert email.reply_to == (Address("help@example.com"),)
    assert email.headers == (("X-Campaign", "autumn"),)
    assert email.attachments[0].content == b"hi"
    assert (email.tags, email.metadata, email.html) == (
        ("receipt",),
        (("order", "42"),),
        "<p>Hi</p>",
    )


def test_every_bad_field_is_listed_with_its_path() -> None:
    """One answer names every bad field, nested paths included."""
    errors = errors_of(
        {
            "from": 12,
            "to": ["ok@example.com", "ok2@example.com", "not-an-address"],
            "cc": [{"name": "x"}],
            "subject": ["no"],
            "attachments": [{"filename": "a", "content": "%%%"}],
        }
    )
    assert set(errors) == {"from", "to[2]", "cc[0].email", "subject", "attachments[0].content"}


@pytest.mark.parametrize(
    "data",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nthere"},
        {"subject": "=?utf-8?q?Hi=0D=0ABcc=3A_victim=40example.com?="},
        {"subject": "=?utf-8?b?SGkNCkJjYzogdmljdGlt?="},
        {"headers": {"X-Note": "a\r\nBcc: victim@example.com"}},
        {"headers": {"X-Note": "=?utf-8?q?a=0Ab?="}},
        {"to": [{"email": "ann@example.org", "name": "Ann\r\nBcc: victim@example.com"}]},
        {"to": ["=?utf-8?q?Ann=0D=0A?= <ann@example.org>"]},
    ],
)
def test_header_injection_is_refused(data: dict[str, Any]) -> None:
    """CR or LF in a subject, name or header value, raw or encoded-word, is a 400."""
    assert errors_of(minimal(**data))


@pytest.mark.parametrize("name", ["From", "to", "Subject", "Content-Type", "Message-ID", "Bcc"])
def test_reserved_headers_are_refused(name: str) -> None:
    """Headers the service sets itself cannot be overridden."""
    assert f"headers.{name}" in errors_of(minimal(headers={name: "x"}))


def test_recipient_limit_counts_to_cc_and_bcc() -> None:
    """At most 1,000 recipients across to, cc and bcc."""
    many = [f"r{i}@example.org" for i in range(400)]
    assert validate(minimal(to=many, cc=many, bcc=many[:200])).email.bcc
    assert "to" in errors_of(minimal(to=many, cc=many, bcc=many[:201]))


@pytest.mark.parametrize(
    ("send_at", "expected"),
    [(None, None), (NOW - 60, None), (NOW + 60, NOW + 60), (NOW + 30 * 86400, NOW + 30 * 86400)],
)
def test_send_at(send_at: float | None, expected: float | None) -> None:
    """Omitted or past means now; up to 30 days ahead is kept."""
    assert validate(minimal(sendAt=send_at)).send_at == expected


@pytest.mark.parametrize("send_at", [NOW + 30 * 86400 + 1, "tomorrow", True])
def test_send_at_refused(send_at: Any) -> None:
    """More than 30 days ahead, or not a number, is a 400."""
    assert "sendAt" in errors_of(minimal(sendAt=send_at))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-15T09:00:00Z", NOW + 3600),
        ("2027-01-15T11:00:00+02:00", NOW + 3600),
        ("2027-01-15t09:00:00.000z", NOW + 3600),
        ("2027-01-15 09:00:00.5Z", NOW + 3600.5),
        ("2020-01-01T00:00:00Z", None),
    ],
)
def test_send_at_takes_rfc3339_strings(text: str, expected: float | None) -> None:
    """An RFC 3339 date-time with Z or an offset is the same instant as its Unix seconds."""
    assert validate(minimal(sendAt=text)).send_at == expected


@pytest.mark.parametrize(
    "text", ["2027-01-15T08:00:00", "2027-01-15", "2027-02-30T08:00:00Z", "2027-01-15T08:00Z"]
)
def test_send_at_strings_without_offset_or_impossible_are_refused(text: str) -> None:
    """No offset (which zone?), no time, or no such day: refused, naming the formats."""
    assert "RFC 3339" in errors_of(minimal(sendAt=text))["sendAt"]


@pytest.mark.parametrize("send_at", [NOW * 1000, NOW * 1000 + 0.5, 10**11])
def test_send_at_in_milliseconds_is_refused_as_such(send_at: float) -> None:
    """A millisecond timestamp is refused with a message that says to send seconds."""
    message = errors_of(minimal(sendAt=send_at))["sendAt"]
    assert message.startswith("looks like milliseconds")
    assert "send Unix seconds" in message


def test_limit_messages_use_the_singular_for_one() -> None:
    """A limit of one reads "1 day", "1 header", never "1 days"."""
    one = Limits(max_schedule_seconds=86400, max_headers=1, max_tags=1)
    with pytest.raises(InvalidEmailError) as caught:
        validate_fully(
            minimal(sendAt=NOW + 2 * 86400, headers={"X-A": "a", "X-B": "b"}, tags=["a", "b"]),
            now=NOW,
            limits=one,
            full_parser=parse_with_email_validator,
        )
    assert caught.value.errors == {
        "sendAt": "must be at most 1 day ahead",
        "headers": "at most 1 header",
        "tags": "must be a list of at most 1 string",
    }


def test_warnings_name_unknown_fields_and_an_empty_email() -> None:
    """Unknown fields are named (with the likely intended one); so is an email with no text."""
    assert warnings(minimal(subject="Hi")) == ()
    assert warnings(minimal(body="Hello")) == ()
    assert warnings(minimal(subject="Hi", htlm="<p>x</p>", zzz=1)) == (
        "unknown field 'htlm' ignored; did you mean 'html'?",
        "unknown field 'zzz' ignored",
    )
    assert warnings(minimal()) == ("neither subject nor body: the email is sent empty",)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"to": []}, "to"),
        ({"to": None}, "to"),
        ({"from": None}, "from"),
        ({"body": "a", "text": "b"}, "text"),
        ({"tags": ["x"] * 11}, "tags"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"attachments": [{"content": "aGk="}]}, "attachments[0].filename"),
        (
            {"attachments": [{"filename": "a", "content": "aGk=", "contentType": "nope"}]},
            "attachments[0].contentType",
        ),
        ({"headers": {"Bad Name": "x"}}, "headers.Bad Name"),
        ({"subject": "x" * 999}, "subject"),
    ],
)
def test_refusals(data: dict[str, Any], field: str) -> None:
    """Each rule names its field."""
    assert field in errors_of(minimal(**data))


def test_body_must_be_an_object() -> None:
    """A JSON array or string is refused as a whole."""
    assert errors_of([1, 2]) == {"body": "must be a JSON object"}


def test_unknown_fields_are_ignored() -> None:
    """Fields the API does not know do not fail a request, as in the origin API."""
    assert validate(minimal(trackOpens=True)).email.to == (Address("ann@example.org"),)


# -- the quick pass must never accept what the full validator refuses, nor build another Email

_addresses = st.one_of(
    st.sampled_from(
        ["ann@example.org", "Ann <ann@example.org>", "bad", "a@b.test", "x@EXAMPLE.com"]
    ),
    st.fixed_dictionaries(
        {"email": st.sampled_from(["ann@example.org", "no"]), "name": st.text(max_size=5)}
    ),
    st.integers(),
)
_strings = st.one_of(
    st.none(), st.text(max_size=8), st.sampled_from(["a\r\nb", "=?utf-8?q?x?=", "x" * 1000])
)
_requests = st.fixed_dictionaries(
    {},
    optional={
        "from": _addresses,
        "to": st.one_of(st.lists(_addresses, max_size=3), _addresses),
        "cc": st.lists(_addresses, max_size=2),
        "replyTo": _addresses,
        "subject": _strings,
        "body": _strings,
        "text": _strings,
        "html": _strings,
        "headers": st.dictionaries(
            st.sampled_from(["X-A", "From", "Bad Name", "X-B"]), _strings, max_size=2
        ),
        "tags": st.lists(_strings, max_size=3),
        "metadata": st.dictionaries(
            st.sampled_from(["k", "", "postroom_id", "a\x01", "m" * 129]), _strings, max_size=2
        ),
        "sendAt": st.one_of(
            st.none(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.integers(),
            st.sampled_from(["2027-01-15T08:00:00Z", "2027-01-15T08:00:00", "soon"]),
        ),
    },
)


@settings(max_examples=400)
@given(_requests)
def test_quick_pass_agrees_with_the_full_validator(data: dict[str, Any]) -> None:
    """Whatever the quick pass accepts, the full validator accepts with the same result."""
    quick = quick_submission(data, NOW, LIMITS)
    if quick is None:
        return
    assert (
        validate_fully(data, now=NOW, limits=LIMITS, full_parser=parse_with_email_validator)
        == quick
    )


@settings(max_examples=200)
@given(st.lists(_requests, min_size=1, max_size=4))
def test_a_batch_memo_changes_no_result(batch: list[dict[str, Any]]) -> None:
    """The emails of a batch read with one memo (addresses, header names, metadata keys, tags) come
    out as each does alone."""
    seen = Seen()
    for data in batch:
        assert quick_submission(data, NOW, LIMITS, seen) == quick_submission(data, NOW, LIMITS)


@pytest.mark.parametrize(
    "extra",
    [
        {"headers": {"X-Ref": "1"}},
        {"headers": {"Bcc": "x@example.org"}},
        {"headers": {"Bad Name": "1"}},
        {"metadata": {"customer": "c-1"}},
        {"metadata": {"postroom_id": "1"}},
        {"metadata": {"a\x01": "1"}},
        {"metadata": {"m" * 129: "1"}},
        {"tags": ["invoice"]},
        {"tags": ["bad\x01"]},
        {"tags": ["t" * 129]},
    ],
)
def test_a_name_read_again_in_a_batch_gets_its_first_answer(extra: dict[str, Any]) -> None:
    """A header name, metadata key or tag the memo has seen, good or bad, is judged as alone."""
    seen = Seen()
    data = minimal(subject="Hi", text="Hello", **extra)
    alone = quick_submission(data, NOW, LIMITS)
    assert [quick_submission(data, NOW, LIMITS, seen) for _ in range(3)] == [alone] * 3


def test_the_quick_pass_sets_the_intake_fields_it_is_given() -> None:
    """Tenant and template are set on the Email as it is built, as replace() would set them."""
    data = minimal(cc=["b@example.org"], tags=["t"])
    plain = quick_submission(data, NOW, LIMITS)
    given = quick_submission(data, NOW, LIMITS, intake=("acme", "tpl-1", 3))
    assert plain is not None
    assert given is not None
    expected = replace(plain.email, tenant="acme", template_id="tpl-1", template_version=3)
    assert given.email == expected


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Every field the API reads, and one it does not.
_fields = st.sampled_from([*sorted(FIELDS), "htlm"])


@settings(max_examples=500)
@given(st.dictionaries(_fields, _json_values, max_size=8))
def test_any_json_gives_a_submission_or_a_listed_refusal(data: dict[str, Any]) -> None:
    """Whatever JSON arrives, validation returns or names the bad fields; it never crashes."""
    refused: dict[str, str] | None = None
    try:
        validate(data)
    except InvalidEmailError as error:
        refused = error.errors
    if refused is not None:
        assert refused
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in refused.items())


@pytest.mark.parametrize("key", ["postroom_id", "Postroom_ID"])
def test_the_correlation_key_is_refused_in_metadata(key: str) -> None:
    """Metadata may not use the name Postroom sends its own id under, in any letter case."""
    assert errors_of(minimal(metadata={key: "x", "order": "42"})) == {
        f"metadata.{key}": "is reserved: Postroom sends its own id here"
    }


def test_the_correlation_header_is_refused() -> None:
    """A request may not set X-Postroom-Id: the service sets it on every send."""
    assert list(errors_of(minimal(headers={"x-postroom-id": "mine"}))) == ["headers.x-postroom-id"]
