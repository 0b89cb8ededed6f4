"""The request schema's patterns never promise more than validation accepts."""

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.addresses.validator import parse_with_email_validator
from postroom.api.schemas import ADDRESS, EMAIL_REQUEST, RFC3339, SINGLE_LINE
from postroom.domain.message import Limits
from postroom.domain.rules import schedule
from postroom.domain.validation import validate_fully

NOW = 1_800_000_000.0
_TEXT = st.characters(exclude_categories=["Cs"])


def _accepted(data: dict[str, Any]) -> bool:
    validate_fully(data, now=NOW, limits=Limits(), full_parser=parse_with_email_validator)
    return True


def _matching(pattern: str, max_size: int) -> st.SearchStrategy[str]:
    text = st.from_regex(pattern, fullmatch=True, alphabet=_TEXT)
    return text.filter(lambda value: len(value) <= max_size)


_STRING_FORM = ADDRESS["oneOf"][0]
_OBJECT_EMAIL = ADDRESS["oneOf"][1]["properties"]["email"]


@settings(max_examples=300)
@given(
    sender=_matching(_STRING_FORM["pattern"], 254),
    bare=_matching(_OBJECT_EMAIL["pattern"], 254),
    name=_matching(SINGLE_LINE, 256),
    subject=_matching(SINGLE_LINE, 998),
)
def test_addresses_names_and_subjects_the_schema_allows_are_accepted(
    sender: str, bare: str, name: str, subject: str
) -> None:
    """Any address, display name and subject matching the schema's patterns passes validation."""
    assert _accepted({"from": sender, "to": [{"email": bare, "name": name}], "subject": subject})


@settings(max_examples=200)
@given(text=_matching(RFC3339, 40))
def test_every_date_time_the_pattern_allows_is_read_or_explained(text: str) -> None:
    """A string of the RFC 3339 shape is a time (refused only when too far ahead), or (month 13,
    hour 25) a 400 naming the format."""
    _, error = schedule(text, NOW, Limits())
    assert error in ("", "must be at most 30 days ahead") or "RFC 3339" in error


def test_header_names_the_service_sets_are_outside_the_schema() -> None:
    """The headers' name pattern excludes the reserved names in any letter case."""
    pattern = re.compile(EMAIL_REQUEST["properties"]["headers"]["propertyNames"]["pattern"])
    assert pattern.search("X-Campaign")
    assert not [
        name
        for name in ("From", "subject", "CONTENT-TYPE", "dkim-signature")
        if pattern.search(name)
    ]
