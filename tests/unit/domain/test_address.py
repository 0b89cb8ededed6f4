"""The address policy, case by case from the shared conformance data."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.address import AddressError, fast_mailbox, parse_address, quick_address
from tests.conftest import conformance

CASES = [c for c in conformance("addresses.json") if not c["ambiguous"]]


def _accepts(text: str) -> bool:
    try:
        parse_address(text, parse_with_email_validator)
    except AddressError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["source"].rsplit("#", 1)[-1][:40])
def test_conformance_case(case: dict[str, object]) -> None:
    """Every non-ambiguous conformance address is accepted or refused as the policy says."""
    assert _accepts(str(case["address"])) is case["valid"], case["note"]


def test_the_conformance_set_is_complete() -> None:
    """The shared data still has its 688 cases, so a truncated file cannot pass silently."""
    assert len(conformance("addresses.json")) == 688
    assert len(CASES) > 600


@pytest.mark.parametrize(
    ("text", "email", "name"),
    [
        ("Ann Lee <ann.lee@example.org>", "ann.lee@example.org", "Ann Lee"),
        ('"Lee, Ann" <ann@example.org>', "ann@example.org", "Lee, Ann"),
        ("<ann@example.org>", "ann@example.org", ""),
        ("Zoë <zoe@example.org>", "zoe@example.org", "Zoë"),
        ("ann@EXAMPLE.org", "ann@example.org", ""),
    ],
)
def test_name_addr_forms(text: str, email: str, name: str) -> None:
    """Display names are kept apart from the address; the domain is lower-cased."""
    address = parse_address(text, parse_with_email_validator)
    assert (address.email, address.name) == (email, name)


_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-."
_DOMAIN = "abcdefghijklmnopqrstuvwxyz0123456789-."


@given(
    local=st.text(alphabet=_ATEXT, min_size=1, max_size=70),
    domain=st.text(alphabet=_DOMAIN, min_size=1, max_size=40),
    tld=st.sampled_from(["com", "org", "test", "local", "c", "museum", "x1", "io"]),
)
def test_fast_path_never_accepts_what_the_full_parser_refuses(
    local: str, domain: str, tld: str
) -> None:
    """The regular-expression fast path accepts only addresses email-validator accepts too."""
    text = f"{local}@{domain}.{tld}"
    fast = fast_mailbox(text)
    if fast is None:
        return
    assert parse_with_email_validator(text).email == fast


@given(name=st.text(min_size=0, max_size=30), local=st.sampled_from(["ann", "a.b", "x+y"]))
def test_quick_name_addr_agrees_with_the_full_parser(name: str, local: str) -> None:
    """When the quick path settles `Name <addr>`, the full path settles it the same way."""
    text = f"{name} <{local}@example.com>"
    quick = quick_address(text)
    if quick is None:
        return
    assert parse_address(text, parse_with_email_validator) == quick
