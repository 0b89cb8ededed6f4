"""Intake: validate, normalise, store durably. The API answers 202 only after this returns."""

import hashlib
import os
from collections.abc import Callable
from typing import Any

from postroom.domain.address import FullParser
from postroom.domain.ids import new_id
from postroom.domain.message import Limits
from postroom.domain.validation import validate_submission
from postroom.ports.cipher import Cipher
from postroom.ports.clock import Clock
from postroom.ports.queue import NewEmail, PutOutcome, PutResult, Queue
from postroom.services.codec import encode_email
from postroom.services.content import NoCipher


class IdempotencyConflictError(Exception):
    """The idempotency key was used in the last 24 h for a different email."""


class SubmitEmail:
    def __init__(
        self,
        queue: Queue,
        clock: Clock,
        full_parser: FullParser,
        limits: Limits | None = None,
        cipher: Cipher | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._full_parser = full_parser
        self._limits = limits or Limits()
        self._cipher = cipher or NoCipher()
        self._random_bytes = random_bytes
        # Told after each new email is stored (a worker in this process wakes at once).
        self._on_stored = on_stored

    async def __call__(
        self, data: Any, idempotency_key: str | None = None, owner: str = ""
    ) -> PutResult:
        """Store the email a decoded request describes.

        Raises InvalidEmailError (nothing stored), IdempotencyConflictError, or
        StorageUnavailableError (nothing acknowledged). A DUPLICATE result is the original email.
        """
        now = self._clock.now()
        submission = validate_submission(
            data, now=now, limits=self._limits, full_parser=self._full_parser
        )
        plain = encode_email(submission.email)
        send_at = submission.send_at
        email_id = new_id(int(now * 1000), self._random_bytes(10))
        new = NewEmail(
            id=email_id,
            payload=self._cipher.seal(plain, email_id.encode()),
            not_before=send_at if send_at is not None else now,
            scheduled=send_at is not None,
            idempotency_key=_stored_key(owner, idempotency_key) if idempotency_key else None,
            fingerprint=_fingerprint(plain, data.get("sendAt")) if idempotency_key else b"",
            owner=owner,
        )
        result = await self._queue.put(new)
        if result.outcome is PutOutcome.CONFLICT:
            raise IdempotencyConflictError
        if self._on_stored is not None and result.outcome is PutOutcome.CREATED:
            self._on_stored()
        return result


def _stored_key(owner: str, key: str) -> str:
    """Per API key, so two clients choosing the same key never collide; hashed, because a
    client may well put an order number or an address in it."""
    return hashlib.sha256(f"{owner}:{key}".encode()).hexdigest()


def _fingerprint(payload: bytes, send_at: Any) -> bytes:
    """Same normalised email and same sendAt as sent, same fingerprint, whatever the JSON's
    formatting. The raw sendAt, not the normalised one: a retry after that time has passed must
    still match."""
    digest = hashlib.sha256(payload)
    digest.update(repr(send_at).encode())
    return digest.digest()
