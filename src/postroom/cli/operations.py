"""Operator commands: dead letters, API keys, content at rest, retention, the SQS queue. Each
runs one use case of services/operations.py and prints what it returned."""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from postroom.bootstrap import (
    create_sqs_queues,
    new_encryption_key,
    open_cipher,
    open_storage,
    retention_cutoff,
)
from postroom.cli.parsing import STORAGE_FLAGS, command
from postroom.domain.keys import (
    DEFAULT_SCOPES,
    DEFAULT_TENANT,
    SCOPES,
    UnknownScopeError,
    expiry,
    parse_scopes,
    scopes_text,
)
from postroom.domain.rules import CONTROL
from postroom.ports.storage import Storage
from postroom.services import operations
from postroom.settings import Settings

T = TypeVar("T")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    _dead_commands(commands)
    _sqs_commands(commands)
    _key_commands(commands)
    _encryption_commands(commands)
    command(
        commands,
        "purge",
        cmd_purge,
        "purge content past the retention period now",
        ("database_url", "queue_url", "retention_days", "log_level"),
    )


def _key_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    verbs = keys.add_subparsers(title="key commands", metavar="VERB")
    create = command(
        verbs, "create", cmd_keys_create, "create a key and print it once", STORAGE_FLAGS
    )
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--tenant",
        default=DEFAULT_TENANT,
        help="whose suppression list the key's emails share (keys of one tenant share one) "
        f"[default {DEFAULT_TENANT}]",
    )
    create.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        metavar="SCOPE",
        help=f"what the key may do, repeatable or comma-separated: {', '.join(SCOPES)} "
        f"(admin: everything) [default {scopes_text(DEFAULT_SCOPES)}]",
    )
    expires = create.add_mutually_exclusive_group()
    expires.add_argument(
        "--expires-in", metavar="DAYS", help="the key stops working this many days from now"
    )
    expires.add_argument(
        "--expires-at",
        metavar="RFC3339",
        help="the key stops working at this time (2027-01-31T00:00:00Z) [default: never]",
    )
    command(verbs, "list", cmd_keys_list, "list keys (never the keys themselves)", STORAGE_FLAGS)
    revoke = command(verbs, "revoke", cmd_keys_revoke, "revoke a key", STORAGE_FLAGS)
    revoke.add_argument("key", metavar="ID_OR_PREFIX", help="the key's id or its shown prefix")


def _encryption_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    encryption = commands.add_parser("encryption", help="keys for content at rest")
    verbs = encryption.add_subparsers(title="encryption commands", metavar="VERB")
    command(verbs, "new-key", cmd_encryption_new_key, "print a fresh ID:BASE64KEY entry", (), False)
    command(
        verbs,
        "rotate",
        cmd_encryption_rotate,
        "re-encrypt stored content under the first key",
        ("database_url", "queue_url", "encryption_keys", "log_level"),
    )


def _dead_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    dead = commands.add_parser("dead", help="list and redrive dead-lettered emails")
    verbs = dead.add_subparsers(title="dead-letter commands", metavar="VERB")
    listing = command(verbs, "list", cmd_dead_list, "list dead-lettered emails", STORAGE_FLAGS)
    listing.add_argument("--limit", type=int, default=100, help="at most this many [default 100]")
    redrive = command(
        verbs, "redrive", cmd_dead_redrive, "queue dead-lettered emails again", STORAGE_FLAGS
    )
    which = redrive.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", action="append", dest="ids", metavar="ID", help="this email (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every dead-lettered email")
    redrive.add_argument("--dry-run", action="store_true", help="count, change nothing")


def _sqs_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sqs = commands.add_parser("sqs", help="the Amazon SQS queue (POSTROOM_QUEUE_URL=sqs://...)")
    verbs = sqs.add_subparsers(title="SQS commands", metavar="VERB")
    create = command(
        verbs,
        "create-queues",
        cmd_sqs_create_queues,
        "create the queue and its dead-letter queue (safe to run again)",
        ("queue_url", "visibility_timeout", "log_level"),
    )
    create.add_argument(
        "--max-receives",
        type=int,
        default=100,
        help="receives before SQS moves a message to the dead-letter queue [default 100]",
    )
    command(
        verbs,
        "requeue",
        cmd_sqs_requeue,
        "send a message for every email still waiting (heals lost messages; duplicates are safe)",
        STORAGE_FLAGS,
    )


def _on_storage(settings: Settings, use: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the configured storage, run `use` on it, close it."""

    async def run() -> T:
        storage = open_storage(settings)
        try:
            return await use(storage)
        finally:
            await storage.close()

    return asyncio.run(run())


def _progress(done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


def _when(timestamp: float | None, seconds: bool = False) -> str:
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(timestamp, UTC).strftime(shape) if timestamp else "-"


def cmd_dead_list(settings: Settings, args: argparse.Namespace) -> int:
    rows = _on_storage(settings, lambda s: operations.dead_letters(s, args.limit))
    # provider and error: the last provider attempt and its class (permanent, down, ...).
    print(f"{'id':36}  {'failed at (UTC)':19}  {'attempts':>8}  {'provider':12}  error")
    for row in rows:
        when, provider = _when(row.failed_at, seconds=True), row.provider or "-"
        print(f"{row.id:36}  {when:19}  {row.attempts:>8}  {provider:12}  {row.error or '-'}")
    return 0


def cmd_dead_redrive(settings: Settings, args: argparse.Namespace) -> int:
    async def redrive(storage: Storage) -> str:
        if args.ids:
            await operations.check_dead(storage, args.ids)
            if args.dry_run:
                return f"would redrive: {len(args.ids)}"
            return f"redriven: {await operations.redrive_ids(storage, args.ids)}"
        if args.dry_run:
            return f"would redrive: {await operations.count_dead(storage)}"
        done = await operations.redrive_all(storage, _progress)
        if done:
            print(file=sys.stderr)
        return f"redriven: {done}"

    print(_on_storage(settings, redrive))
    return 0


def cmd_sqs_create_queues(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.queue_url.startswith("sqs://"):
        print("postroom: POSTROOM_QUEUE_URL: expected sqs://REGION/QUEUE_NAME", file=sys.stderr)
        return 2
    created = asyncio.run(create_sqs_queues(settings, args.max_receives))
    print(f"queue: {created.url}")
    print(f"dead-letter queue: {created.dead_letter_url} (after {created.max_receives} receives)")
    return 0


def cmd_sqs_requeue(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.queue_url.startswith("sqs://"):
        print("postroom: requeue is for a queue apart from the database (SQS)", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        sys.stderr.write(f"\rrequeued: {done}")

    done = _on_storage(settings, lambda s: operations.requeue(s, progress))
    print(file=sys.stderr)
    print(f"requeued: {done}")
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    tenant = args.tenant
    if not tenant.strip() or CONTROL.search(tenant):
        print("postroom: error: --tenant: a tenant is a name of one line", file=sys.stderr)
        return 2
    options = _key_options(args)
    if isinstance(options, str):
        print(f"postroom: error: {options}", file=sys.stderr)
        return 2
    scopes, expires_at = options
    try:
        print(
            _on_storage(
                settings,
                lambda s: operations.create_named_key(s, args.name, tenant, scopes, expires_at),
            )
        )
    except operations.KeyNameError as error:
        print(f"postroom: error: --name: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    keys = _on_storage(settings, operations.list_keys)
    print(
        f"{'id':36}  {'name':20}  {'prefix':14}  {'created':16}  {'last used':16}  "
        f"{'expires':16}  {'scopes':22}  revoked"
    )
    for key in keys:
        print(
            f"{key.id:36}  {key.name[:20]:20}  {key.prefix:14}  {_when(key.created_at):16}  "
            f"{_when(key.last_used_at):16}  {_when(key.expires_at):16}  "
            f"{scopes_text(key.scopes) or '-':22}  {_when(key.revoked_at)}"
        )
    return 0


def _key_options(args: argparse.Namespace) -> tuple[frozenset[str], float | None] | str:
    """The scopes (without --scope: send and read) and expiry of `keys create`, or the line
    naming the flag that is wrong."""
    try:
        scopes = parse_scopes(args.scopes) if args.scopes is not None else DEFAULT_SCOPES
        expires_at = expiry(args.expires_in, args.expires_at, time.time())
    except UnknownScopeError as error:
        return f"--scope: {error}"
    except ValueError as error:
        return str(error)
    return (scopes, expires_at) if scopes else "--scope: name at least one scope"


def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    key = _on_storage(settings, lambda s: operations.revoke_key(s, args.key))
    print(f"revoked {key.id} ({key.name})")
    return 0


def cmd_encryption_new_key(settings: Settings, args: argparse.Namespace) -> int:
    print(new_encryption_key())
    return 0


def cmd_encryption_rotate(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.encryption_keys:
        print(
            "postroom: error: POSTROOM_ENCRYPTION_KEYS: set the new key first, then rotate",
            file=sys.stderr,
        )
        return 2
    cipher = open_cipher(settings)
    changed, total = _on_storage(settings, lambda s: operations.rotate(s, cipher, _progress))
    if total:
        print(file=sys.stderr)
    print(f"re-encrypted {changed} values of {total} emails")
    return 0


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    days = settings.retention_days
    purged = _on_storage(settings, lambda s: operations.purge(s, retention_cutoff(settings)))
    print(f"purged the content of {purged} emails that ended more than {days} days ago")
    return 0
