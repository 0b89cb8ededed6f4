"""Intake: validate, normalise, store durably. The API answers 202 only after this returns."""

import asyncio
import hashlib
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from postroom.domain.address import FullParser
from postroom.domain.errors import InvalidEmailError, StorageUnavailableError
from postroom.domain.ids import new_id, new_ids
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.message import Email, Limits
from postroom.domain.quick import Seen, quick_submission
from postroom.domain.rules import Submission
from postroom.domain.suppression import field_names
from postroom.domain.validation import validate_fully
from postroom.domain.values import quick_init
from postroom.ports.cipher import Cipher
from postroom.ports.clock import Clock
from postroom.ports.queue import NewEmail, PutOutcome, PutResult, Queue
from postroom.services.addresses import AddressKeys
from postroom.services.codec import encode_email
from postroom.services.content import NoCipher
from postroom.services.suppressions import SuppressionList
from postroom.services.templates import SeenTemplates, Templates


class IdempotencyConflictError(Exception):
    """The idempotency key was used in the last 24 h for a different email."""


@quick_init
@dataclass(frozen=True, slots=True)
class Submitted:
    result: PutResult
    # The recipients the suppression list blocks ("to[1]"), told to the client at once; the
    # worker checks again before sending and records them as suppressed.
    suppressed: tuple[str, ...] = ()


_ID_RANDOM = 10  # random bytes per id (UUIDv7, domain/ids.py)
_PLAIN = ("", 0)  # the (template id, version) of an email sent without a template


@dataclass(slots=True)
class _BatchMemo:
    """What the emails of one batch share, worked out once for all of them: the addresses the
    quick pass read, the keyed hashes made (about 2 µs each, measured: an archive in cc, one
    customer in many items, a tag on every item) and the templates read."""

    seen: Seen = field(default_factory=Seen)
    keys: dict[str, str] = field(default_factory=dict)
    tag_keys: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    templates: SeenTemplates = field(default_factory=dict)


# What one item of a batch came to; None for an item left out (over the sending limit).
Outcome = Submitted | InvalidEmailError | IdempotencyConflictError | None


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
        addresses: AddressKeys | None = None,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._full_parser = full_parser
        self._limits = limits or Limits()
        self._cipher = cipher or NoCipher()
        # Without keys the payload is stored as it is: no call and no context per email.
        self._sealing = not isinstance(self._cipher, NoCipher)
        self._random_bytes = random_bytes
        # Told after each new email is stored (a worker in this process wakes at once).
        self._on_stored = on_stored
        self._suppressions = suppressions
        self._templates = templates
        # Keys each email's recipients for GET /api/v1/email?to= (never an address stored);
        # None stores no recipient keys.
        self._addresses = addresses

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
        lookup = asyncio.ensure_future(self._blocked(self._suppressions, email, new))
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
    ) -> list[Outcome]:
        """Store the valid emails of a batch in one write (Queue.put_many): for each item, in
        order, what it came to (None for the indexes in `skip`, left out). With a key, item i
        is idempotent under "key:i", so a retried batch answers each item's original email.
        Raises StorageUnavailableError (nothing acknowledged)."""
        found: list[Outcome] = [None] * len(items)
        memo = _BatchMemo()
        ready = await self._prepared(items, idempotency_key, owner, tenant, skip, found, memo)
        if not ready:
            return found
        results, blocked = await self._put_with_lookup(ready, memo)
        if self._on_stored is not None and any(r.outcome is PutOutcome.CREATED for r in results):
            self._on_stored()
        created = PutOutcome.CREATED
        for (i, _, _), result, suppressed in zip(ready, results, blocked, strict=True):
            # The new email, nearly every item, without a call of its own.
            new = result.outcome is created
            found[i] = Submitted(result, suppressed) if new else _outcome(result, suppressed)
        return found

    async def _put_with_lookup(
        self, ready: list[tuple[int, NewEmail, Email]], memo: _BatchMemo
    ) -> tuple[list[PutResult], list[tuple[str, ...]]]:
        """The put of a batch's emails and their suppressed recipients. As for one email, the
        lookup goes with the put: on SQLite both land in one group transaction and one
        hand-back to the event loop, where after the put they cost two."""
        emails = [email for _, _, email in ready]
        lookup = asyncio.ensure_future(self._all_blocked(emails, memo))
        try:
            results = await self._queue.put_many([new for _, new, _ in ready])
        except BaseException:
            lookup.cancel()
            raise
        return results, await lookup

    async def _prepared(
        self,
        items: Sequence[Any],
        idempotency_key: str | None,
        owner: str,
        tenant: str,
        skip: Collection[int],
        found: list[Outcome],
        memo: _BatchMemo,
    ) -> list[tuple[int, NewEmail, Email]]:
        """Each item not skipped, ready to put, with its index; an invalid item's error goes
        into `found` at its index instead."""
        now = self._clock.now()
        ready: list[tuple[int, NewEmail, Email]] = []
        # The ids' randomness in one system call: os.urandom gives up the GIL, and winning it
        # back from the busy SQLite writer thread cost more than the call (py-spy, under load).
        entropy = self._random_bytes(_ID_RANDOM * len(items))
        ids = new_ids(int(now * 1000), entropy, len(items))
        for i, data in enumerate(items):
            if i in skip:
                continue
            key = f"{idempotency_key}:{i}" if idempotency_key else None
            try:
                if type(data) is dict and "template" in data:
                    new, email = await self.prepare(data, key, owner, tenant, now, memo, ids[i])
                else:  # no coroutine per plain item: a batch is mostly those
                    new, email = self._sealed(data, key, owner, tenant, now, ids[i], _PLAIN, memo)
            except InvalidEmailError as error:
                found[i] = error
                continue
            ready.append((i, new, email))
        return ready

    async def _all_blocked(self, emails: list[Email], memo: _BatchMemo) -> list[tuple[str, ...]]:
        """The suppressed recipients of each email of a batch, from one lookup; as for one
        email, a lookup that fails tells nothing (the worker checks again)."""
        if self._suppressions is None:
            return [()] * len(emails)
        # One question per distinct tags, each address in it once: a batch often repeats an
        # address (an archive in cc, one customer in many items), and each costs a keyed hash.
        asked: dict[tuple[str, ...], dict[str, int]] = {}
        for e in emails:
            places = asked.get(e.tags)
            if places is None:  # not setdefault: that makes a dict per email
                places = asked[e.tags] = {}
            for a in e.recipients():
                if a.email not in places:
                    places[a.email] = len(places)
        questions = [(list(places), tags) for tags, places in asked.items()]
        try:
            found = await self._suppressions.blocked_many(
                emails[0].tenant, questions, self._made_keys(questions, memo)
            )
        except StorageUnavailableError:
            return [()] * len(emails)
        hits = {
            tags: {address for address, i in places.items() if i in blocked}
            for (tags, places), blocked in zip(asked.items(), found, strict=True)
        }
        return [_named(e, blocked) if (blocked := hits[e.tags]) else () for e in emails]

    def _made_keys(
        self, questions: list[tuple[list[str], tuple[str, ...]]], memo: _BatchMemo
    ) -> list[list[str]] | None:
        """The keys the batch's recipient keys were made with, for the lookup's addresses;
        None when intake makes none (the lookup makes its own)."""
        if self._addresses is None:
            return None
        return [[memo.keys[a] for a in addresses] for addresses, _ in questions]

    async def prepare(
        self,
        data: Any,
        idempotency_key: str | None,
        owner: str,
        tenant: str,
        now: float,
        memo: _BatchMemo | None = None,
        email_id: str | None = None,
    ) -> tuple[NewEmail, Email]:
        """The email a request describes, validated and sealed, ready to put; nothing stored.
        Raises InvalidEmailError. A batch (`many`) prepares each of its emails so, passing
        its memo (each template it names is read once) and the id it made for the item."""
        used = _PLAIN
        if type(data) is dict and "template" in data:  # one lookup on the plain path
            data, used = await self._rendered(data, tenant, memo.templates if memo else None)
        email_id = email_id or new_id(int(now * 1000), self._random_bytes(_ID_RANDOM))
        return self._sealed(data, idempotency_key, owner, tenant, now, email_id, used, memo)

    def _sealed(
        self,
        data: Any,
        idempotency_key: str | None,
        owner: str,
        tenant: str,
        now: float,
        email_id: str,
        used: tuple[str, int] = _PLAIN,
        memo: _BatchMemo | None = None,
    ) -> tuple[NewEmail, Email]:
        """`prepare` for a request with no template left in it, to be stored as `email_id`."""
        submission = self._validated(data, now, tenant, used, memo)
        email = submission.email
        plain = encode_email(email)
        send_at = submission.send_at
        # Positional, in the fields' order: keywords cost a frozen dataclass twice as much
        # (2.0 against 0.9 µs, measured), and every email pays it.
        new = NewEmail(
            email_id,
            self._cipher.seal(plain, email_id.encode()) if self._sealing else plain,
            send_at if send_at is not None else now,  # not_before
            send_at is not None,  # scheduled
            _stored_key(owner, idempotency_key) if idempotency_key else None,
            _fingerprint(plain, data.get("sendAt")) if idempotency_key else b"",
            owner,
            tenant,
            self._tag_keys(email, memo),
            self._recipient_keys(email, memo),
        )
        return new, email

    def _validated(
        self, data: Any, now: float, tenant: str, used: tuple[str, int], memo: _BatchMemo | None
    ) -> Submission:
        """The request validated (InvalidEmailError otherwise) into an Email with its intake
        fields set. The quick pass builds it with them; only what it leaves to the full
        validator is built twice."""
        seen = memo.seen if memo is not None else None
        quick = quick_submission(data, now, self._limits, seen, (tenant, used[0], used[1]))
        if quick is not None:
            return quick
        full = validate_fully(data, now=now, limits=self._limits, full_parser=self._full_parser)
        return Submission(with_intake(full.email, tenant, used), full.send_at)

    def _tag_keys(self, email: Email, memo: _BatchMemo | None) -> tuple[str, ...]:
        """The keyed hash of each tag: what the list of emails filters on."""
        if self._addresses is None:
            return ()
        if memo is None:
            return tuple(self._addresses.tag_key(tag) for tag in email.tags)
        # By the whole tuple: the items of a batch mostly carry the same tags.
        keys = memo.tag_keys.get(email.tags)
        if keys is None:
            keys = memo.tag_keys[email.tags] = self._tag_keys(email, None)
        return keys

    def _recipient_keys(self, email: Email, memo: _BatchMemo | None) -> tuple[str, ...]:
        """The keyed hash of each recipient (to, cc, bcc), in order, each once."""
        if self._addresses is None:
            return ()
        key = self._addresses.key
        if memo is None:
            return tuple(dict.fromkeys([key(a.email) for a in email.recipients()]))
        known = memo.keys
        made = []
        for address in email.recipients():
            found = known.get(address.email)
            if found is None:
                found = known[address.email] = key(address.email)
            made.append(found)
        # Most emails name each address once: a set's size says so for less than the dict.
        return tuple(made) if len(set(made)) == len(made) else tuple(dict.fromkeys(made))

    async def _rendered(
        self, data: dict[str, Any], tenant: str, seen: SeenTemplates | None = None
    ) -> tuple[Any, tuple[str, int]]:
        """The request with its template rendered in, and the (id, version) it used."""
        if self._templates is None:
            raise InvalidEmailError({"template": "templates are not available with this storage"})
        applied = await self._templates.apply(tenant, data, seen)
        return applied.data, (applied.template_id, applied.version)

    def _stored(self, result: PutResult) -> Submitted:
        if result.outcome is PutOutcome.CONFLICT:
            raise IdempotencyConflictError
        if result.outcome is PutOutcome.CREATED and self._on_stored is not None:
            self._on_stored()
        return Submitted(result)

    async def _blocked(
        self, suppressions: SuppressionList, email: Email, new: NewEmail
    ) -> tuple[str, ...]:
        """A lookup that fails tells nothing: the email is stored, and the worker checks
        again before sending."""
        addresses = [a.email for a in email.recipients()]
        # The recipient keys intake made, when they are one per address (no address twice):
        # a keyed hash costs about 2 µs (measured), and every recipient would pay it twice.
        keys = new.recipient_keys if len(new.recipient_keys) == len(addresses) else None
        try:
            blocked = await suppressions.blocked(email.tenant, addresses, email.tags, keys)
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


def _named(email: Email, blocked: set[str]) -> tuple[str, ...]:
    """The fields of the email's recipients whose address is in `blocked` ("cc[1]")."""
    if not blocked:
        return ()  # the common case, and naming none costs nothing
    recipients = email.recipients()
    return tuple(field_names(email, [i for i, a in enumerate(recipients) if a.email in blocked]))


def _outcome(
    result: PutResult, suppressed: tuple[str, ...]
) -> Submitted | IdempotencyConflictError:
    """A batch item's answer once put; only a new email tells its suppressed recipients (a
    repeat's first answer told them)."""
    if result.outcome is PutOutcome.CREATED:
        return Submitted(result, suppressed)
    if result.outcome is PutOutcome.CONFLICT:
        return IdempotencyConflictError()
    return Submitted(result)


# Email's fields but the three that intake sets, which come last. Copying the others
# positionally costs half of dataclasses.replace (1.9 against 3.5 µs an email, measured),
# and every email pays it.
_INTAKE_FIELDS = ("tenant", "template_id", "template_version")
_OTHER_FIELDS = attrgetter(*[f.name for f in fields(Email) if f.name not in _INTAKE_FIELDS])


def with_intake(email: Email, tenant: str, used: tuple[str, int]) -> Email:
    """`replace(email, tenant=tenant, template_id=used[0], template_version=used[1])`."""
    # mypy cannot count the fields attrgetter returns; tests hold this equal to replace().
    return Email(*_OTHER_FIELDS(email), tenant, used[0], used[1])  # type: ignore[call-arg]
