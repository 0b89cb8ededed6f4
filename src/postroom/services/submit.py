"""Intake: validate, normalise, store durably. The API answers 202 only after this returns."""

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from postroom.domain.address import FullParser
from postroom.domain.errors import StorageUnavailableError
from postroom.domain.ids import new_id
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.message import Email, Limits
from postroom.domain.suppression import field_names
from postroom.domain.validation import validate_submission
from postroom.ports.cipher import Cipher
from postroom.ports.clock import Clock
from postroom.ports.queue import NewEmail, PutOutcome, PutResult, Queue
from postroom.services.codec import encode_email
from postroom.services.content import NoCipher
from postroom.services.suppressions import SuppressionList


class IdempotencyConflictError(Exception):
    """The idempotency key was used in the last 24 h for a different email."""


@dataclass(frozen=True, slots=True)
class Submitted:
    result: PutResult
    # The recipients the suppression list blocks ("to[1]"), told to the client at once; the
    # worker checks again before sending and records them as suppressed.
    suppressed: tuple[str, ...] = ()


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
        suppressions: SuppressionList | None = None,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._full_parser = full_parser
        self._limits = limits or Limits()
        self._cipher = cipher or NoCipher()
        self._random_bytes = random_bytes
        # Told after each new email is stored (a worker in this process wakes at once).
        self._on_stored = on_stored
        self._suppressions = suppressions

    async def __call__(
        self,
        data: Any,
        idempotency_key: str | None = None,
        owner: str = "",
        tenant: str = DEFAULT_TENANT,
    ) -> Submitted:
        """Store the email a decoded request describes.

        Raises InvalidEmailError (nothing stored), IdempotencyConflictError, or
        StorageUnavailableError (nothing acknowledged). A DUPLICATE result is the original email.
        """
        now = self._clock.now()
        submission = validate_submission(
            data, now=now, limits=self._limits, full_parser=self._full_parser
        )
        email = replace(submission.email, tenant=tenant)
        plain = encode_email(email)
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
        if self._suppressions is None:
            return self._stored(await self._queue.put(new))
        # The lookup goes with the put, not after it: SQLite does both in one group
        # transaction, PostgreSQL in two round trips at once; the answer waits for one.
        lookup = asyncio.ensure_future(self._blocked(self._suppressions, email))
        try:
            submitted = self._stored(await self._queue.put(new))
        except BaseException:
            lookup.cancel()
            raise
        if submitted.result.outcome is not PutOutcome.CREATED:
            lookup.cancel()  # a repeat: its first answer told
            return submitted
        return Submitted(submitted.result, await lookup)

    def _stored(self, result: PutResult) -> Submitted:
        if result.outcome is PutOutcome.CONFLICT:
            raise IdempotencyConflictError
        if result.outcome is PutOutcome.CREATED and self._on_stored is not None:
            self._on_stored()
        return Submitted(result)

    async def _blocked(self, suppressions: SuppressionList, email: Email) -> tuple[str, ...]:
        """A lookup that fails tells nothing: the email is stored, and the worker checks
        again before sending."""
        try:
            blocked = await suppressions.blocked(
                email.tenant, [a.email for a in email.recipients()], email.tags
            )
        except StorageUnavailableError:
            return ()
        return tuple(field_names(email, blocked))


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
