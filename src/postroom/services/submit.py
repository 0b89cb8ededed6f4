"""Intake: validate, normalise, store durably. The API answers 202 only after this returns."""

import asyncio
import hashlib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from postroom.domain.address import FullParser
from postroom.domain.errors import InvalidEmailError, StorageUnavailableError
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
from postroom.services.templates import Templates


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
        templates: Templates | None = None,
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
        self._templates = templates

    async def __call__(
        self,
        data: Any,
        idempotency_key: str | None = None,
        owner: str = "",
        tenant: str = DEFAULT_TENANT,
    ) -> Submitted:
        """Store the email a decoded request describes.

        A request naming a `template` is rendered first (services/templates.py): the stored
        email holds the rendering. Raises InvalidEmailError (nothing stored),
        IdempotencyConflictError, or StorageUnavailableError (nothing acknowledged). A DUPLICATE
        result is the original email.
        """
        new, email = await self.prepare(data, idempotency_key, owner, tenant, self._clock.now())
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

    async def many(
        self,
        items: Sequence[Any],
        idempotency_key: str | None,
        owner: str,
        tenant: str,
        skip: Collection[int] = (),
    ) -> list[Submitted | InvalidEmailError | IdempotencyConflictError | None]:
        """Store the valid emails of a batch in one write (Queue.put_many): for each item, in
        order, what it came to (None for the indexes in `skip`, left out). With a key, item i
        is idempotent under "key:i", so a retried batch answers each item's original email.
        Raises StorageUnavailableError (nothing acknowledged)."""
        now = self._clock.now()
        found: list[Submitted | InvalidEmailError | IdempotencyConflictError | None] = []
        ready: list[tuple[int, NewEmail, Email]] = []
        for i, data in enumerate(items):
            if i in skip:
                found.append(None)
                continue
            key = f"{idempotency_key}:{i}" if idempotency_key else None
            try:
                new, email = await self.prepare(data, key, owner, tenant, now)
            except InvalidEmailError as error:
                found.append(error)
                continue
            found.append(None)
            ready.append((i, new, email))
        results = await self._queue.put_many([new for _, new, _ in ready]) if ready else []
        created = [
            (i, email)
            for (i, _, email), r in zip(ready, results, strict=True)
            if r.outcome is PutOutcome.CREATED
        ]
        if created and self._on_stored is not None:
            self._on_stored()
        blocked = await self._all_blocked([email for _, email in created])
        for (i, _, _), result in zip(ready, results, strict=True):
            conflict = result.outcome is PutOutcome.CONFLICT
            found[i] = IdempotencyConflictError() if conflict else Submitted(result)
        for (i, _), suppressed in zip(created, blocked, strict=True):
            found[i] = Submitted(found[i].result, suppressed)  # type: ignore[union-attr]
        return found

    async def _all_blocked(self, emails: list[Email]) -> list[tuple[str, ...]]:
        """The suppressed recipients of each new email of a batch, from one lookup; as for one
        email, a lookup that fails tells nothing (the worker checks again)."""
        if self._suppressions is None or not emails:
            return [() for _ in emails]
        asked = [([a.email for a in e.recipients()], e.tags) for e in emails]
        try:
            found = await self._suppressions.blocked_many(emails[0].tenant, asked)
        except StorageUnavailableError:
            return [() for _ in emails]
        return [tuple(field_names(e, b)) for e, b in zip(emails, found, strict=True)]

    async def prepare(
        self, data: Any, idempotency_key: str | None, owner: str, tenant: str, now: float
    ) -> tuple[NewEmail, Email]:
        """The email a request describes, validated and sealed, ready to put; nothing stored.
        Raises InvalidEmailError. A batch (`many`) prepares each of its emails so."""
        used = ("", 0)
        if type(data) is dict and "template" in data:  # one lookup on the plain path
            data, used = await self._rendered(data, tenant)
        submission = validate_submission(
            data, now=now, limits=self._limits, full_parser=self._full_parser
        )
        email = replace(
            submission.email, tenant=tenant, template_id=used[0], template_version=used[1]
        )
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
        return new, email

    async def _rendered(self, data: dict[str, Any], tenant: str) -> tuple[Any, tuple[str, int]]:
        """The request with its template rendered in, and the (id, version) it used."""
        if self._templates is None:
            raise InvalidEmailError({"template": "templates are not available with this storage"})
        applied = await self._templates.apply(tenant, data)
        return applied.data, (applied.template_id, applied.version)

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
