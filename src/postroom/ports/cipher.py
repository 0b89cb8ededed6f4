"""The cipher port: stored content sealed with an authenticated cipher, or left as it is."""

from typing import Protocol


class Cipher(Protocol):
    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt under the current key; `context` (the email id) is bound to the result, so a
        sealed value moved to another email does not open."""
        ...

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """Decrypt with whichever configured key sealed it; CipherError if none can."""
        ...

    def is_current(self, sealed: bytes) -> bool:
        """Whether `sealed` is already under the current key (nothing to rotate)."""
        ...
