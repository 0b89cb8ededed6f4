"""Operator use cases: dead letters, API keys, re-encryption, retention, requeue.

Each returns what happened and raises OperationError with the one line to show when it cannot be
carried out; the CLI prints. What they return names ids, times, counts and providers only: a
reason may quote a provider's error text, so it stays behind the status API.
"""

import os
import uuid
from collections.abc import Callable

from postroom.domain.errors import CipherError, StorageUnavailableError
from postroom.domain.keys import (
    DEFAULT_SCOPES,
    DEFAULT_TENANT,
    new_token,
    token_hash,
    visible_prefix,
)
from postroom.domain.states import State
from postroom.ports.cipher import Cipher
from postroom.ports.dead import DeadLetter
from postroom.ports.keys import ApiKey
from postroom.ports.storage import Storage
from postroom.services.content import Content
from postroom.services.redrive import redrive

PAGE = 500
# Told (done, total) after each page of a long operation.
Progress = Callable[[int, int], None]


class OperationError(Exception):
    """An operator request that cannot be carried out; str() is the line to show."""


class KeyNameError(OperationError):
    """The name given to a new key is empty or already names a key in use."""


def _quiet(done: int, total: int) -> None:
    return None


# -- dead letters


async def dead_letters(storage: Storage, limit: int) -> list[DeadLetter]:
    return await storage.dead.dead(limit)


async def check_dead(storage: Storage, ids: list[str]) -> None:
    """Raise OperationError for the first id that names no dead letter (unknown, or in another
    state): checked before anything is redriven, so a typo changes nothing."""
    for email_id in ids:
        status = await storage.emails.status(email_id)
        if status is None:
            raise OperationError(f"no such dead letter: {email_id}")
        if status.state is not State.FAILED:
            raise OperationError(f"no such dead letter: {email_id} (it is {status.state.value})")


async def count_dead(storage: Storage) -> int:
    total, after = 0, ""
    while page := await storage.dead.dead(PAGE, after):
        total += len(page)
        after = page[-1].id
    return total


async def redrive_ids(storage: Storage, ids: list[str]) -> int:
    """Queue these dead letters again; how many were dead."""
    return len(await redrive(storage.dead, storage.requeue, ids))


async def redrive_all(storage: Storage, progress: Progress = _quiet) -> int:
    total = await count_dead(storage)
    done, after = 0, ""
    while page := await storage.dead.dead(PAGE, after):
        after = page[-1].id
        done += await redrive_ids(storage, [row.id for row in page])
        progress(done, total)
    return done


# -- API keys


async def create_key(
    storage: Storage,
    name: str,
    tenant: str = DEFAULT_TENANT,
    scopes: frozenset[str] = DEFAULT_SCOPES,
    expires_at: float | None = None,
) -> str:
    """A new key; the token is returned once and only its hash is stored. Without scopes it
    may send and read (DEFAULT_SCOPES); without an expiry it never expires."""
    token = new_token(os.urandom(32))
    await storage.keys.create_key(
        str(uuid.uuid4()),
        name,
        token_hash(token),
        visible_prefix(token),
        tenant,
        scopes,
        expires_at,
    )
    return token


async def create_named_key(
    storage: Storage,
    name: str,
    tenant: str = DEFAULT_TENANT,
    scopes: frozenset[str] = DEFAULT_SCOPES,
    expires_at: float | None = None,
) -> str:
    """A new key for `keys create`: KeyNameError for an empty name or one a key not revoked
    already has (a revoked key's name may be used again, as when a key is replaced)."""
    if not name.strip():
        raise KeyNameError("a key needs a name (what it is for)")
    keys = await storage.keys.list_keys()
    if any(key.name == name and key.revoked_at is None for key in keys):
        raise KeyNameError(f"a key named {name!r} exists; revoke it first or pick another name")
    return await create_key(storage, name, tenant, scopes, expires_at)


async def list_keys(storage: Storage) -> list[ApiKey]:
    return await storage.keys.list_keys()


async def revoke_key(storage: Storage, id_or_prefix: str) -> ApiKey:
    """Revoke the one key whose id or shown prefix starts with `id_or_prefix`; OperationError
    when none or several match, or when that key is already revoked."""
    wanted = id_or_prefix.strip()
    keys = await storage.keys.list_keys()
    found = [k for k in keys if wanted and (k.id.startswith(wanted) or k.prefix.startswith(wanted))]
    if len(found) != 1:
        many = f"{len(found)} keys; give more of the id" if found else "no key"
        raise OperationError(f"{id_or_prefix!r} matches {many}")
    if found[0].revoked_at is not None:
        raise OperationError(f"key {found[0].id} ({found[0].name}) is already revoked")
    key = await storage.keys.revoke_key(found[0].id)
    if key is None:  # deleted between the listing and the revoke
        raise OperationError(f"{id_or_prefix!r} matches no key")
    return key


# -- content at rest


async def rotate(storage: Storage, cipher: Cipher, progress: Progress = _quiet) -> tuple[int, int]:
    """Re-encrypt every stored payload and reason under the first key, page by page; a rerun
    after a crash skips what is already current. (values changed, emails)."""
    content = Content(cipher)
    total = await storage.sealed.count_emails()
    seen, changed, after = 0, 0, ""
    while True:
        try:
            count, last = await storage.sealed.reseal_page(
                after, PAGE, content.reseal, content.reseal_text
            )
        except CipherError as error:
            raise OperationError(f"cannot re-encrypt: {error}") from None
        if last is None:
            return changed, total
        changed += count
        seen = min(total, seen + PAGE)
        after = last
        progress(seen, total)


async def purge(storage: Storage, before: float) -> int:
    """Drop the content of emails that ended before `before`; how many."""
    return await storage.sealed.purge_content(before)


# -- a queue apart from the store


async def requeue(storage: Storage, progress: Progress = _quiet) -> int:
    """Page through the waiting emails, sending each a message; how many were sent. Storage
    lost midway stops it with what was sent so far (sent stays sent; a rerun is safe)."""
    requeuing = storage.requeue
    if requeuing is None:
        raise OperationError("requeue is for a queue apart from the database (SQS)")
    done, after = 0, ""
    while True:
        try:
            count, last = await requeuing.requeue(after, PAGE)
        except StorageUnavailableError as error:
            raise OperationError(f"stopped after {done}: {error}") from None
        done += count
        progress(done, 0)
        if last is None:
            return done
        after = last
