"""AES-256-GCM (the `cryptography` package) with named keys, for content at rest.

A sealed value is `PR1` + key-id length + key id + 12-byte nonce + ciphertext and tag. The key id
lets every configured key open what it sealed, so keys rotate without a flag day: put the new key
first, run `postroom encryption rotate`, then drop the old one.

POSTROOM_ENCRYPTION_KEYS takes `ID:BASE64KEY` entries separated by commas; the first seals.
"""

import base64
import os
import re
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postroom.domain.errors import CipherError

MAGIC = b"PR1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def new_key_entry(rand: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh `ID:BASE64KEY` entry for POSTROOM_ENCRYPTION_KEYS."""
    key_id = "k" + rand(4).hex()
    return f"{key_id}:{base64.urlsafe_b64encode(rand(32)).decode()}"


def parse_keys(text: str) -> list[tuple[str, bytes]]:
    """The (id, key) pairs of a POSTROOM_ENCRYPTION_KEYS value; ValueError naming what is wrong
    (never the key material)."""
    pairs = []
    for index, entry in enumerate(part.strip() for part in text.split(",") if part.strip()):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"entry {index + 1} is not ID:BASE64KEY")
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            key = base64.b64decode(padded, altchars=b"-_", validate=True)
        except ValueError:
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"key {key_id!r} must be 32 bytes (256 bits)")
        pairs.append((key_id, key))
    if not pairs:
        raise ValueError("no keys given")
    if len({key_id for key_id, _ in pairs}) != len(pairs):
        raise ValueError("two keys share an id")
    return pairs


class AesGcmCipher:
    def __init__(
        self, keys: list[tuple[str, bytes]], rand: Callable[[int], bytes] = os.urandom
    ) -> None:
        self._current_id = keys[0][0].encode()
        self._keys = {key_id.encode(): AESGCM(key) for key_id, key in keys}
        self._rand = rand

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = self._rand(12)  # random 96-bit nonces: safe far beyond any queue's lifetime per key
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext, context)
        return MAGIC + bytes([len(self._current_id)]) + self._current_id + nonce + sealed

    def open(self, sealed: bytes, context: bytes) -> bytes:
        key_id, nonce, body = _split(sealed)
        aead = self._keys.get(key_id)
        if aead is None:
            raise CipherError(
                f"sealed with key {key_id.decode(errors='replace')!r}, which is not configured"
            )
        try:
            return aead.decrypt(nonce, body, context)
        except InvalidTag:
            raise CipherError(
                "content does not open with its key (altered, or the wrong key)"
            ) from None

    def is_current(self, sealed: bytes) -> bool:
        return sealed.startswith(MAGIC) and _split(sealed)[0] == self._current_id


def _split(sealed: bytes) -> tuple[bytes, bytes, bytes]:
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 1:
        raise CipherError("content is not encrypted")
    size = sealed[len(MAGIC)]
    start = len(MAGIC) + 1
    key_id = sealed[start : start + size]
    return key_id, sealed[start + size : start + size + 12], sealed[start + size + 12 :]
