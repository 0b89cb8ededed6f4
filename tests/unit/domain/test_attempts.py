"""Attempt reasons keep what helps an operator and drop what identifies a person."""

from postroom.domain.attempts import MAX_REASON_CHARS, nearest_rank, scrub, summary
from postroom.domain.circuit import Failure
from postroom.domain.router import Action, Attempt, Decision, after_failure


def test_addresses_in_any_shape_are_masked() -> None:
    """Bare, bracketed and quoted-local-part addresses all become <address>."""
    text = 'rejected ann@example.org, <bob@mx.example.com> and "j doe"@example.net'
    assert scrub(text) == "rejected <address>, <address> and <address>"


def test_private_values_are_redacted_and_lines_joined() -> None:
    """The subject and names given are replaced; line breaks collapse to spaces."""
    assert scrub("bad subject:\r\n  Invoice 42 for Ann", ("Invoice 42", "Ann")) == (
        "bad subject: <redacted> for <redacted>"
    )


def test_reason_is_capped() -> None:
    """A provider echoing a whole request is cut to MAX_REASON_CHARS."""
    assert len(scrub("x" * 5000)) == MAX_REASON_CHARS


def test_failures_accumulate_into_the_retry_reason() -> None:
    """Every failed provider of an attempt is named, in order, in the final decision."""
    first = after_failure(
        Attempt(1, 0.0), 0, Failure.DOWN, summary("mailgun", "down", "http_503"), None
    )
    assert isinstance(first, Attempt)
    last = after_failure(
        first, 1, Failure.PERMANENT, summary("smtp", "permanent", "smtp_550"), None
    )
    assert last == Decision(
        Action.FAIL, provider=1, reason="mailgun: down http_503; smtp: permanent smtp_550"
    )


def test_percentiles_are_nearest_ranks() -> None:
    """The smallest value with at least the share at or below it: always one of the values;
    p99 of fewer than 100 calls is the slowest; none of no calls."""
    values = [float(v) for v in range(1, 11)]
    assert (nearest_rank(values, 0.5), nearest_rank(values, 0.99)) == (5.0, 10.0)
    assert nearest_rank([7.0], 0.5) == nearest_rank([7.0], 0.99) == 7.0
    hundred = [float(v) for v in range(1, 101)]
    assert (nearest_rank(hundred, 0.5), nearest_rank(hundred, 0.99)) == (50.0, 99.0)
    assert nearest_rank([], 0.5) is None
