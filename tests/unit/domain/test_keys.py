"""API key scopes and expiry (domain/keys.py): parsing, what a scope allows, when a key ends."""

import pytest

from postroom.domain.keys import (
    ADMIN,
    DEFAULT_SCOPES,
    READ,
    SCOPES,
    SEND,
    TEMPLATES,
    WEBHOOKS,
    UnknownScopeError,
    allows,
    expired,
    expiry,
    parse_scopes,
    scopes_from_text,
    scopes_text,
)

NOW = 1_800_000_000.0


def test_scopes_are_taken_repeated_or_comma_separated() -> None:
    """`--scope send --scope read,webhooks` is three scopes; case, spaces and empties ignored."""
    assert parse_scopes(["send", "Read, webhooks", ",", " "]) == {SEND, READ, WEBHOOKS}
    assert parse_scopes([]) == frozenset()


def test_an_unknown_scope_is_refused_by_name() -> None:
    """A name outside SCOPES raises UnknownScopeError naming it and listing the known ones."""
    with pytest.raises(UnknownScopeError) as refused:
        parse_scopes(["send", "sned"])
    assert "'sned'" in str(refused.value)
    assert all(name in str(refused.value) for name in SCOPES)


def test_a_key_may_use_a_route_of_its_scope_only() -> None:
    """`allows` is membership: send does not give read, nor read send, nor templates webhooks."""
    assert allows(frozenset({SEND}), SEND)
    assert not allows(frozenset({SEND}), READ)
    assert not allows(frozenset({READ}), SEND)
    assert not allows(frozenset({TEMPLATES}), WEBHOOKS)
    assert not allows(frozenset(), SEND)


def test_admin_implies_every_scope() -> None:
    """A key with `admin` alone may use every route."""
    assert all(allows(frozenset({ADMIN}), scope) for scope in SCOPES)


def test_new_and_old_keys_send_and_read() -> None:
    """The default scopes, as stored ("send,read", the migration's default), round-trip."""
    assert {SEND, READ} == DEFAULT_SCOPES
    assert scopes_text(DEFAULT_SCOPES) == "send,read"
    assert scopes_from_text("send,read") == DEFAULT_SCOPES
    assert scopes_from_text(scopes_text(frozenset(SCOPES))) == frozenset(SCOPES)


def test_a_stored_scope_this_release_does_not_know_grants_nothing() -> None:
    """A newer release's scope name read back by this one is dropped, not honoured."""
    assert scopes_from_text("send,billing") == {SEND}
    assert scopes_from_text("") == frozenset()


def test_a_key_expires_at_its_time_exactly() -> None:
    """Refused from the expiry on, not a moment before; None never expires."""
    assert not expired(None, NOW)
    assert not expired(NOW, NOW - 0.001)
    assert expired(NOW, NOW)
    assert expired(NOW, NOW + 1)


def test_expiry_from_days_or_a_time() -> None:
    """`--expires-in 30` is 30 days from now; `--expires-at` an RFC 3339 time; neither: never."""
    assert expiry("30", None, NOW) == NOW + 30 * 86400
    assert expiry("0.5", None, NOW) == NOW + 43200
    assert expiry(None, "2027-01-31T00:00:00Z", NOW) == 1_801_353_600.0
    assert expiry(None, "2027-01-31T01:00:00+01:00", NOW) == 1_801_353_600.0
    assert expiry(None, None, NOW) is None


@pytest.mark.parametrize(
    ("days", "at", "flag"),
    [
        ("0", None, "--expires-in"),
        ("-3", None, "--expires-in"),
        ("soon", None, "--expires-in"),
        ("inf", None, "--expires-in"),
        ("nan", None, "--expires-in"),
        (None, "2027-01-31", "--expires-at"),
        (None, "2027-01-31T00:00:00", "--expires-at"),
        (None, "2020-01-01T00:00:00Z", "--expires-at"),
    ],
)
def test_a_bad_expiry_is_refused_naming_the_flag(
    days: str | None, at: str | None, flag: str
) -> None:
    """Not positive, not a number, no offset, or already past: ValueError naming the flag."""
    with pytest.raises(ValueError, match=flag):
        expiry(days, at, NOW)
