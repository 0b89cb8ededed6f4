"""AES-GCM content encryption: round trips, binding to the email, rotation, refusals."""

import pytest

from postroom.ciphers.aesgcm import AesGcmCipher, new_key_entry, parse_keys
from postroom.domain.errors import CipherError
from postroom.services.content import Content, NoCipher

OLD = parse_keys(new_key_entry())
NEW = parse_keys(new_key_entry())


def test_round_trip_and_no_plaintext() -> None:
    """Sealed content opens to the original and does not contain it."""
    cipher = AesGcmCipher(NEW)
    sealed = cipher.seal(b"ann@example.org", b"id-1")
    assert b"ann@example.org" not in sealed
    assert cipher.open(sealed, b"id-1") == b"ann@example.org"


def test_sealed_content_is_bound_to_its_email() -> None:
    """Content moved to another email's row does not open."""
    cipher = AesGcmCipher(NEW)
    with pytest.raises(CipherError):
        cipher.open(cipher.seal(b"x", b"id-1"), b"id-2")


def test_tampering_is_detected() -> None:
    """A flipped bit is refused, never decrypted to garbage."""
    cipher = AesGcmCipher(NEW)
    sealed = bytearray(cipher.seal(b"hello", b"id"))
    sealed[-1] ^= 1
    with pytest.raises(CipherError):
        cipher.open(bytes(sealed), b"id")


def test_old_keys_open_and_rotation_reseals_under_the_first() -> None:
    """With the new key first, old content still opens and reseals under the new key."""
    old = AesGcmCipher(OLD)
    both = Content(AesGcmCipher(NEW + OLD))
    sealed = old.seal(b"payload", b"id")
    assert not both.cipher.is_current(sealed)
    resealed = both.reseal(sealed, b"id")
    assert resealed is not None
    assert both.cipher.is_current(resealed)
    assert both.reseal(resealed, b"id") is None
    assert AesGcmCipher(NEW).open(resealed, b"id") == b"payload"


def test_unknown_key_and_missing_keys_are_refused() -> None:
    """Content sealed with a key not configured, or any sealed content without keys, is an error."""
    sealed = AesGcmCipher(OLD).seal(b"x", b"id")
    with pytest.raises(CipherError, match="not configured"):
        AesGcmCipher(NEW).open(sealed, b"id")
    with pytest.raises(CipherError, match="not set"):
        NoCipher().open(sealed, b"id")


def test_sealed_text_round_trip() -> None:
    """Reasons are sealed as text and opened back; without keys they stay as they are."""
    content = Content(AesGcmCipher(NEW))
    sealed = content.seal_text("550 <ann@example.org> unknown", "id")
    assert "ann@example.org" not in sealed
    assert content.open_text(sealed, "id") == "550 <ann@example.org> unknown"
    assert Content(NoCipher()).seal_text("plain", "id") == "plain"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "no keys"),
        ("nocolon", "ID:BASE64KEY"),
        ("k1:c2hvcnQ", "32 bytes"),
        ("k1:!!!", "base64"),
    ],
)
def test_bad_key_lists(value: str, problem: str) -> None:
    """Malformed POSTROOM_ENCRYPTION_KEYS values are refused with a reason, no key material."""
    with pytest.raises(ValueError, match=problem):
        parse_keys(value)


def test_duplicate_key_ids_are_refused() -> None:
    """Two keys with one id would make rotation ambiguous."""
    entry = new_key_entry()
    with pytest.raises(ValueError, match="share an id"):
        parse_keys(f"{entry},{entry}")
