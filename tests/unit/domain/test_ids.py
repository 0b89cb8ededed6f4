"""Email ids: UUIDv7, sortable by time, recognisable."""

import os
import uuid

import pytest

from postroom.domain.ids import is_id, message_id_header, new_id, new_ids


def test_id_is_a_version_7_uuid() -> None:
    """An id parses as a UUID of version 7 with the RFC 9562 variant."""
    parsed = uuid.UUID(new_id(1_800_000_000_000, bytes(range(10))))
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_ids_sort_by_time() -> None:
    """A later millisecond gives a larger id, whatever the random bits."""
    earlier = new_id(1_800_000_000_000, b"\xff" * 10)
    later = new_id(1_800_000_000_001, b"\x00" * 10)
    assert earlier < later


def test_is_id_refuses_other_text() -> None:
    """Only ids shaped like ours pass, so lookups never see arbitrary text."""
    assert is_id(new_id(1, b"0123456789"))
    assert not is_id("ann@example.com")
    assert not is_id(str(uuid.uuid4()))


def test_message_id_header_is_deterministic() -> None:
    """The same id always gives the same Message-ID."""
    email_id = new_id(5, b"0123456789")
    assert message_id_header(email_id, "example.com") == message_id_header(email_id, "example.com")
    assert message_id_header(email_id, "example.com") == f"<{email_id}@example.com>"


@pytest.mark.parametrize("now_ms", [0, 1, 1_800_000_000_000, (1 << 48) - 1, 1 << 48])
def test_new_ids_are_new_id_of_each_slice(now_ms: int) -> None:
    """A batch's ids are exactly those `new_id` makes from each 10 bytes, whatever the bytes."""
    rand = bytes(range(256)) + os.urandom(1000) + b"\xff" * 10 + b"\x00" * 10
    count = len(rand) // 10
    assert new_ids(now_ms, rand, count) == [
        new_id(now_ms, rand[i * 10 : (i + 1) * 10]) for i in range(count)
    ]


def test_new_ids_refuses_too_few_random_bytes() -> None:
    with pytest.raises(ValueError, match="10 random bytes"):
        new_ids(1, bytes(19), 2)
