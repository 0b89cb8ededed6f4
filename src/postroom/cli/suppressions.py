"""`postroom suppressions`: the suppression list from the command line (docs/suppressions.md).

Each command runs one call of services/suppressions.py on the configured storage and prints what
it returned. Addresses are read, keyed and sealed as the API reads, keys and seals them, so the
commands need the server's POSTROOM_ADDRESS_KEY and POSTROOM_ENCRYPTION_KEYS.
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from postroom.api.suppressions import REASONS, scope_problem
from postroom.bootstrap.events import open_suppressions, parse_listed_address
from postroom.cli.parsing import command
from postroom.domain.address import AddressError
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.suppression import ALL_SCOPES, Reason, Suppression
from postroom.services.suppressions import MAX_PAGE, NewSuppression, SuppressionList
from postroom.settings import Settings

T = TypeVar("T")

FLAGS = ("database_url", "queue_url", "encryption_keys", "address_key", "log_level")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    suppressions = commands.add_parser(
        "suppressions", help="list, add, remove and show suppressed addresses"
    )
    verbs = suppressions.add_subparsers(title="suppression commands", metavar="VERB")
    listing = command(verbs, "list", cmd_list, "list a tenant's suppressed addresses", FLAGS)
    listing.add_argument("--reason", choices=REASONS, help="only entries with this reason")
    add = command(verbs, "add", cmd_add, "suppress an address", FLAGS)
    add.add_argument("address", metavar="ADDRESS", help="the bare address")
    add.add_argument(
        "--reason", choices=REASONS, default=str(Reason.MANUAL), help="why [default manual]"
    )
    add.add_argument(
        "--scope", default=ALL_SCOPES, help="* (every email) or a tag (its emails) [default *]"
    )
    remove = command(verbs, "remove", cmd_remove, "take an address off the list", FLAGS)
    remove.add_argument("address", metavar="ADDRESS", help="the address")
    remove.add_argument("--scope", help="only the entry of this scope [default: every entry]")
    show = command(verbs, "show", cmd_show, "show an address's entries", FLAGS)
    show.add_argument("address", metavar="ADDRESS", help="the address")
    for verb in (listing, add, remove, show):
        verb.add_argument(
            "--tenant",
            default=DEFAULT_TENANT,
            help=f"whose list (API keys have a tenant) [default {DEFAULT_TENANT}]",
        )


def _on_list(settings: Settings, use: Callable[[SuppressionList], Awaitable[T]]) -> T:
    """Open the configured storage's suppression list, run `use` on it, close the storage."""

    async def run() -> T:
        suppressions, storage = open_suppressions(settings)
        try:
            return await use(suppressions)
        finally:
            await storage.close()

    return asyncio.run(run())


def _address(args: argparse.Namespace) -> str | None:
    """ADDRESS as the API would read it; None, with the reason printed, when it is not one."""
    try:
        return parse_listed_address(args.address)
    except AddressError as error:
        print(f"postroom: error: ADDRESS: not a valid address: {error}", file=sys.stderr)
        return None


_HEADER = f"{'address':40}  {'reason':20}  {'scope':16}  {'created':16}  {'expires':16}  source"


def _row(entry: Suppression, now: float) -> str:
    expires = _when(entry.expires_at) if entry.expires_at is not None else "-"
    if not entry.active(now):
        expires += " (lapsed)"
    source = " ".join(p for p in (entry.provider, entry.event, entry.email_id) if p) or "-"
    return (
        f"{entry.address:40}  {entry.reason:20}  {entry.scope:16}  "
        f"{_when(entry.created_at):16}  {expires:16}  {source}"
    )


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    reason = Reason(args.reason) if args.reason else None

    async def every(suppressions: SuppressionList) -> None:
        # Printed a page at a time: a long list is never held in memory whole.
        print(_HEADER)
        cursor: str | None = ""
        while cursor is not None:
            page, cursor = await suppressions.page(args.tenant, reason, cursor, MAX_PAGE)
            now = time.time()
            for entry in page:
                print(_row(entry, now))

    _on_list(settings, every)
    return 0


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    address = _address(args)
    if address is None:
        return 2
    if (problem := scope_problem(args.scope)) is not None:
        print(f"postroom: error: --scope: {problem}", file=sys.stderr)
        return 2
    entry = NewSuppression(address, Reason(args.reason), args.scope)
    # 0 when the list already holds a lasting entry for the address in that scope.
    print(f"added: {_on_list(settings, lambda s: s.add(args.tenant, [entry]))}")
    return 0


def cmd_remove(settings: Settings, args: argparse.Namespace) -> int:
    address = _address(args)
    if address is None:
        return 2
    removed = _on_list(settings, lambda s: s.remove(args.tenant, address, args.scope))
    if not removed:
        print("postroom: not on the suppression list", file=sys.stderr)
        return 1
    print(f"removed: {removed}")
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    address = _address(args)
    if address is None:
        return 2
    entries = _on_list(settings, lambda s: s.show(args.tenant, address))
    if not entries:
        print("postroom: not on the suppression list", file=sys.stderr)
        return 1
    print(_HEADER)
    now = time.time()
    for entry in entries:
        print(_row(entry, now))
    return 0
