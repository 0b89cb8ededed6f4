"""`postroom emails list|show` and `postroom stats`: a tenant's emails, one email's status as
the API gives it, and the queue's counts with the providers' circuits, printed.

`emails list --to` keys the address as the server does (POSTROOM_ADDRESS_KEY), and `emails
show` opens event reasons and recipients with POSTROOM_ENCRYPTION_KEYS: give the server's.
"""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from postroom.api.email_list import STATES
from postroom.api.emails import status_body
from postroom.bootstrap.emails import EmailViews, open_email_views
from postroom.bootstrap.events import parse_listed_address
from postroom.cli.parsing import STORAGE_FLAGS, command
from postroom.domain.address import AddressError
from postroom.domain.ids import is_id
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.states import State
from postroom.ports.emails import EmailSummary
from postroom.services.email_list import MAX_PAGE, EmailQuery
from postroom.settings import Settings

T = TypeVar("T")

FLAGS = (*STORAGE_FLAGS, "encryption_keys", "address_key")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    emails = commands.add_parser("emails", help="list a tenant's emails, show one's status")
    verbs = emails.add_subparsers(title="email commands", metavar="VERB")
    listing = command(verbs, "list", cmd_list, "list a tenant's emails, newest first", FLAGS)
    listing.add_argument("--state", choices=STATES, help="only emails in this state")
    listing.add_argument("--tag", help="only emails with this tag")
    listing.add_argument("--to", metavar="ADDRESS", help="only emails to this address (to/cc/bcc)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many [default 100]")
    listing.add_argument(
        "--tenant",
        default=DEFAULT_TENANT,
        help=f"whose emails (API keys have a tenant) [default {DEFAULT_TENANT}]",
    )
    show = command(verbs, "show", cmd_show, "an email's status and history", FLAGS)
    show.add_argument("id", metavar="ID", help="the email's id")
    command(
        commands,
        "stats",
        cmd_stats,
        "queue depth, in flight, scheduled, dead, oldest age, and the providers' circuits",
        STORAGE_FLAGS,
    )


def _on_views(settings: Settings, use: Callable[[EmailViews], Awaitable[T]]) -> T:
    async def run() -> T:
        views = open_email_views(settings)
        try:
            return await use(views)
        finally:
            await views.storage.close()

    return asyncio.run(run())


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _row(email: EmailSummary) -> str:
    return (
        f"{email.id:36}  {email.state:10}  {_when(email.created_at):19}  "
        f"{_when(email.send_at):19}  {email.provider or '-'}"
    )


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("postroom: error: --limit: at least 1", file=sys.stderr)
        return 2
    try:
        to = parse_listed_address(args.to) if args.to else None
    except AddressError as error:
        print(f"postroom: error: --to: not a valid address: {error}", file=sys.stderr)
        return 2
    query = EmailQuery(State(args.state) if args.state else None, args.tag or None, to=to)

    async def pages(views: EmailViews) -> None:
        print(f"{'id':36}  {'status':10}  {'created (UTC)':19}  {'send at (UTC)':19}  provider")
        left, cursor = args.limit, ""
        while left > 0:
            found, after = await views.listing.page(args.tenant, query, cursor, min(left, MAX_PAGE))
            for email in found:
                print(_row(email))
            left -= len(found)
            if after is None:
                return
            cursor = after

    _on_views(settings, pages)
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async def show(views: EmailViews) -> list[str] | None:
        found = await views.storage.emails.status(args.id) if is_id(args.id) else None
        if found is None:
            return None
        body = status_body(found, views.open_text)
        lines = []
        if views.recipients is not None:
            reports, derived = await views.recipients(found)
            body["status"] = derived or body["status"]
            lines = [f"  {r.address or '-':40}  {r.state.state}" for r in reports]
        return _status_lines(body, lines)

    shown = _on_views(settings, show)
    if shown is None:
        print("postroom: no email with this id", file=sys.stderr)
        return 1
    print("\n".join(shown))
    return 0


def _status_lines(body: dict[str, object], recipients: list[str]) -> list[str]:
    """The API's status answer, as lines: its fields, its events, its recipients."""
    lines = [f"{name:10}  {body[field]}" for name, field in _FIELDS]
    lines.append("events:")
    events = body["events"]
    assert isinstance(events, list)
    for event in events:
        provider, reason = event["provider"] or "-", event["reason"] or ""
        lines.append(f"  {event['at']:24}  {event['status']:10}  {provider:12}  {reason}")
    if recipients:
        lines += ["recipients:", *recipients]
    return lines


_FIELDS = (
    ("id", "id"),
    ("status", "status"),
    ("created", "createdAt"),
    ("send at", "sendAt"),
    ("attempts", "attempts"),
)


def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    async def read(views: EmailViews) -> list[str]:
        storage = views.storage
        stats = await storage.queue.stats()
        lines = [
            f"{'ready':12}  {stats.ready}",
            f"{'in flight':12}  {stats.in_flight}",
            f"{'scheduled':12}  {stats.scheduled}",
            f"{'dead':12}  {stats.dead}",
            f"{'oldest age':12}  {stats.oldest_age:.1f} s",
        ]
        if storage.circuits is None:
            return [*lines, "circuits: circuits are kept per worker process"]
        circuits = await storage.circuits.load()
        lines.append("circuits:" if circuits else "circuits: none recorded yet")
        for name, record in sorted(circuits.items()):
            since = _when(record.updated_at)
            lines.append(f"  {name:20}  {record.circuit.state:10}  since {since}")
        return lines

    print("\n".join(_on_views(settings, read)))
    return 0
