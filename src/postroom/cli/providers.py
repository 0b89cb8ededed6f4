"""`postroom providers`: pause and resume a provider, and list which are paused
(docs/operations.md, "Pausing a provider").

A pause is kept in the store (ports/pauses.py): every worker on it stops sending through the
provider within about a second, with no restart, and sends through it again once resumed.
NAME is a provider's name as metrics and the dashboard show it (`mailgun`, `smtp-1`).
"""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from postroom.bootstrap import open_storage, provider_names
from postroom.cli.parsing import command
from postroom.ports.pauses import ProviderPauses
from postroom.services import pauses
from postroom.services.pauses import PauseError
from postroom.settings import Settings

T = TypeVar("T")

FLAGS = ("database_url", "queue_url", "providers", "log_level")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    providers = commands.add_parser("providers", help="pause, resume and list providers")
    verbs = providers.add_subparsers(title="provider commands", metavar="VERB")
    command(verbs, "list", cmd_list, "each configured provider, and whether it is paused", FLAGS)
    pause = command(verbs, "pause", cmd_pause, "stop every worker sending through it", FLAGS)
    resume = command(verbs, "resume", cmd_resume, "let workers send through it again", FLAGS)
    for verb in (pause, resume):
        verb.add_argument(
            "name", metavar="NAME", help="the provider's name (postroom providers list)"
        )


def _on_pauses(settings: Settings, use: Callable[[ProviderPauses], Awaitable[T]]) -> T | None:
    """Run `use` on the configured store's pauses; None, said on stderr, if it keeps none."""

    async def run() -> T | None:
        storage = open_storage(settings)
        try:
            if storage.pauses is None:
                print("postroom: this store keeps no provider pauses", file=sys.stderr)
                return None
            return await use(storage.pauses)
        finally:
            await storage.close()

    return asyncio.run(run())


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    names = provider_names(settings)
    paused = _on_pauses(settings, lambda store: store.paused())
    if paused is None:
        return 1
    print(f"{'provider':16}  state")
    for name in names:
        at = paused.get(name)
        print(f"{name:16}  {'paused since ' + _when(at) if at is not None else 'sending'}")
    for name in sorted(set(paused) - set(names)):
        print(f"{name:16}  paused since {_when(paused[name])} (not configured here)")
    return 0


def cmd_pause(settings: Settings, args: argparse.Namespace) -> int:
    names = provider_names(settings)
    try:
        changed = _on_pauses(
            settings, lambda store: pauses.pause(store, names, args.name, time.time())
        )
    except PauseError as error:
        print(f"postroom: {error}", file=sys.stderr)
        return 1
    if changed is None:
        return 1
    if changed:
        print(f"{args.name} paused: no worker sends through it until it is resumed")
    else:
        print(f"{args.name} was paused already")
    return 0


def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    changed = _on_pauses(settings, lambda store: pauses.resume(store, args.name))
    if changed is None:
        return 1
    print(f"{args.name} resumed" if changed else f"{args.name} was not paused")
    return 0
