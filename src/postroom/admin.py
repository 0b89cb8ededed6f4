"""Operator commands on stored emails: dead-letter listing and redrive.

Output names ids, times, attempt counts and providers only: a reason may quote the provider's
error text, which can hold addresses, so it stays behind the status API.
"""

import os
import sys
import uuid
from datetime import UTC, datetime

from postroom.clocks import SystemClock
from postroom.domain.errors import CipherError, StorageUnavailableError
from postroom.domain.keys import new_token, token_hash, visible_prefix
from postroom.domain.states import State
from postroom.ports.cipher import Cipher
from postroom.ports.storage import Storage
from postroom.services.content import Content
from postroom.services.redrive import redrive

PAGE = 500


async def list_dead(storage: Storage, limit: int) -> int:
    try:
        rows = await storage.dead.dead(limit)
    finally:
        await storage.close()
    # provider and error: the last provider attempt and its class (permanent, down, ...).
    print(f"{'id':36}  {'failed at (UTC)':19}  {'attempts':>8}  {'provider':12}  error")
    for row in rows:
        when = datetime.fromtimestamp(row.failed_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        provider = row.provider or "-"
        print(f"{row.id:36}  {when:19}  {row.attempts:>8}  {provider:12}  {row.error or '-'}")
    return 0


async def redrive_dead(storage: Storage, ids: list[str] | None, dry_run: bool) -> int:
    """Redrive the given ids, or every dead letter page by page with a progress line."""
    try:
        if ids:
            if (unknown := await _not_dead(storage, ids)) is not None:
                print(f"postroom: no such dead letter: {unknown}", file=sys.stderr)
                return 1
            if dry_run:
                print(f"would redrive: {await _count_failed(storage, ids)}")
            else:
                print(f"redriven: {len(await _redrive(storage, ids))}")
            return 0
        total = await _count(storage)
        done_count = 0 if dry_run else await _redrive_all(storage, total)
        print(f"would redrive: {total}" if dry_run else f"redriven: {done_count}")
        return 0
    finally:
        await storage.close()


async def _not_dead(storage: Storage, ids: list[str]) -> str | None:
    """The first id that names no dead letter (unknown, or in another state), else None:
    checked before anything is redriven, so a typo changes nothing."""
    for email_id in ids:
        status = await storage.emails.status(email_id)
        if status is None:
            return email_id
        if status.state is not State.FAILED:
            return f"{email_id} (it is {status.state.value})"
    return None


async def _count_failed(storage: Storage, ids: list[str]) -> int:
    found = [await storage.emails.status(email_id) for email_id in ids]
    return sum(1 for status in found if status is not None and status.state is State.FAILED)


async def _count(storage: Storage) -> int:
    total, after = 0, ""
    while page := await storage.dead.dead(PAGE, after):
        total += len(page)
        after = page[-1].id
    return total


async def _redrive_all(storage: Storage, total: int) -> int:
    done, after = 0, ""
    while page := await storage.dead.dead(PAGE, after):
        after = page[-1].id
        done += len(await _redrive(storage, [row.id for row in page]))
        _progress(done, total)
    if total:
        print(file=sys.stderr)
    return done


async def _redrive(storage: Storage, ids: list[str]) -> list[str]:
    return await redrive(storage.dead, storage.requeue, ids)


def _progress(done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


async def create_key(storage: Storage, name: str) -> str:
    """A new key; the token is returned once and only its hash is stored."""
    token = new_token(os.urandom(32))
    await storage.keys.create_key(str(uuid.uuid4()), name, token_hash(token), visible_prefix(token))
    return token


class KeyNameError(ValueError):
    """The name given to a new key is empty or already names a key in use."""


async def create_named_key(storage: Storage, name: str) -> str:
    """A new key for `keys create`: KeyNameError for an empty name or one a key not revoked
    already has (a revoked key's name may be used again, as when a key is replaced)."""
    try:
        if not name.strip():
            raise KeyNameError("a key needs a name (what it is for)")
        if any(
            key.name == name and key.revoked_at is None for key in await storage.keys.list_keys()
        ):
            raise KeyNameError(f"a key named {name!r} exists; revoke it first or pick another name")
        return await create_key(storage, name)
    finally:
        await storage.close()


async def rotate(storage: Storage, cipher: Cipher) -> int:
    """Re-encrypt every stored payload and reason under the first key, page by page; a rerun
    after a crash skips what is already current."""
    content = Content(cipher)
    try:
        total = await storage.sealed.count_emails()
        seen, changed, after = 0, 0, ""
        while True:
            try:
                count, last = await storage.sealed.reseal_page(
                    after, PAGE, content.reseal, content.reseal_text
                )
            except CipherError as error:
                print(f"postroom: cannot re-encrypt: {error}", file=sys.stderr)
                return 1
            if last is None:
                break
            changed += count
            seen = min(total, seen + PAGE)
            after = last
            _progress(seen, total)
        if total:
            print(file=sys.stderr)
        print(f"re-encrypted {changed} values of {total} emails")
        return 0
    finally:
        await storage.close()


async def list_keys(storage: Storage) -> int:
    try:
        keys = await storage.keys.list_keys()
    finally:
        await storage.close()
    print(f"{'id':36}  {'name':20}  {'prefix':14}  {'created':16}  {'last used':16}  revoked")
    for key in keys:
        print(
            f"{key.id:36}  {key.name[:20]:20}  {key.prefix:14}  {_when(key.created_at):16}  "
            f"{_when(key.last_used_at):16}  {_when(key.revoked_at)}"
        )
    return 0


async def revoke_key(storage: Storage, id_or_prefix: str) -> int:
    """Revoke the one key whose id or shown prefix starts with `id_or_prefix`; exit 1 when
    none or several match, or when that key is already revoked."""
    try:
        wanted = id_or_prefix.strip()
        keys = await storage.keys.list_keys()
        found = [
            k for k in keys if wanted and (k.id.startswith(wanted) or k.prefix.startswith(wanted))
        ]
        if len(found) != 1:
            many = f"{len(found)} keys; give more of the id" if found else "no key"
            print(f"postroom: {id_or_prefix!r} matches {many}", file=sys.stderr)
            return 1
        if found[0].revoked_at is not None:
            print(
                f"postroom: key {found[0].id} ({found[0].name}) is already revoked", file=sys.stderr
            )
            return 1
        key = await storage.keys.revoke_key(found[0].id)
    finally:
        await storage.close()
    if key is None:  # deleted between the listing and the revoke
        print(f"postroom: {id_or_prefix!r} matches no key", file=sys.stderr)
        return 1
    print(f"revoked {key.id} ({key.name})")
    return 0


async def purge(storage: Storage, days: int) -> int:
    """Drop the content of emails that ended more than `days` days ago."""
    try:
        purged = await storage.sealed.purge_content(SystemClock().now() - days * 86400)
    finally:
        await storage.close()
    print(f"purged the content of {purged} emails that ended more than {days} days ago")
    return 0


async def create_sqs_queues(queue_url: str, visibility: int, max_receives: int) -> int:
    from postroom.storage.sqs.client import create_queues, parse_url

    try:
        created = await create_queues(parse_url(queue_url), visibility, max_receives)
    except (ValueError, StorageUnavailableError) as error:
        print(f"postroom: cannot create the queues: {error}", file=sys.stderr)
        return 1
    print(f"queue: {created.url}")
    print(f"dead-letter queue: {created.dead_letter_url} (after {created.max_receives} receives)")
    return 0


async def requeue(storage: Storage) -> int:
    """Page through the waiting emails, sending each a message, with a progress line."""
    requeuing = storage.requeue
    if requeuing is None:
        await storage.close()
        print("postroom: requeue is for a queue apart from the database (SQS)", file=sys.stderr)
        return 2
    done, after = 0, ""
    try:
        while True:
            count, last = await requeuing.requeue(after, PAGE)
            done += count
            sys.stderr.write(f"\rrequeued: {done}")
            if last is None:
                break
            after = last
    except StorageUnavailableError as error:
        print(f"\npostroom: stopped after {done}: {error}", file=sys.stderr)
        return 1
    finally:
        await storage.close()
    print(file=sys.stderr)
    print(f"requeued: {done}")
    return 0
