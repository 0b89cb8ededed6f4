"""Email content at rest: encoded, then sealed with the configured cipher (or not)."""

import base64

from postroom.domain.errors import CipherError
from postroom.domain.message import Email
from postroom.ports.cipher import Cipher
from postroom.services.codec import decode_email, encode_email

_SEALED_TEXT = "enc:"
# The first bytes of anything an AES-GCM cipher sealed (ciphers/aesgcm.py).
SEALED_MAGIC = b"PR1"


class NoCipher:
    """No keys configured: content is stored as it is, and sealed content is refused."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        return plaintext

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if sealed.startswith(SEALED_MAGIC):
            raise CipherError("content is encrypted but POSTROOM_ENCRYPTION_KEYS is not set")
        return sealed

    def is_current(self, sealed: bytes) -> bool:
        return not sealed.startswith(SEALED_MAGIC)


class Content:
    def __init__(self, cipher: Cipher) -> None:
        self.cipher = cipher

    def seal_email(self, email: Email, email_id: str) -> bytes:
        return self.cipher.seal(encode_email(email), email_id.encode())

    def open_email(self, payload: bytes, email_id: str) -> Email:
        """The stored email; CipherError when it cannot be opened."""
        return decode_email(self.cipher.open(payload, email_id.encode()))

    def seal_text(self, text: str, email_id: str) -> str:
        """Text that may quote personal data (a provider's error), sealed when keys are set."""
        if not text:
            return text
        sealed = self.cipher.seal(text.encode(), email_id.encode())
        if sealed == text.encode():
            return text  # no cipher configured
        return _SEALED_TEXT + base64.b64encode(sealed).decode()

    def open_text(self, text: str, email_id: str) -> str:
        if not text.startswith(_SEALED_TEXT):
            return text
        sealed = base64.b64decode(text[len(_SEALED_TEXT) :])
        return self.cipher.open(sealed, email_id.encode()).decode()

    def reseal(self, payload: bytes, context: bytes) -> bytes | None:
        """Payload under the current key, or None when it already is."""
        if self.cipher.is_current(payload):
            return None
        return self.cipher.seal(self.cipher.open(payload, context), context)

    def reseal_text(self, text: str, context: bytes) -> str | None:
        if not text.startswith(_SEALED_TEXT):
            return None
        sealed = base64.b64decode(text[len(_SEALED_TEXT) :])
        if self.cipher.is_current(sealed):
            return None
        plain = self.cipher.open(sealed, context)
        return _SEALED_TEXT + base64.b64encode(self.cipher.seal(plain, context)).decode()
