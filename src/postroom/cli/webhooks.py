"""`postroom webhooks urls`: where to point each provider's event webhooks."""

import argparse

from postroom.bootstrap.events import webhook_urls
from postroom.cli.parsing import command
from postroom.settings import Settings


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    webhooks = commands.add_parser("webhooks", help="provider event webhooks")
    verbs = webhooks.add_subparsers(title="webhook commands", metavar="VERB")
    urls = command(
        verbs,
        "urls",
        cmd_webhooks_urls,
        "print the URL to paste into each provider's console",
        ("providers",),
    )
    urls.add_argument(
        "--base", required=True, help="the public URL Postroom is reached at, https://..."
    )


def cmd_webhooks_urls(settings: Settings, args: argparse.Namespace) -> int:
    found = webhook_urls(settings, args.base)
    if not found:
        print("No configured provider sends event webhooks (Mailgun, SendGrid, SES, Postmark).")
        return 0
    for entry in found:
        print(f"{entry.provider:<12} {entry.url}")
        if entry.missing:
            print(f"{'':<12} refuses every request until its URL has: {entry.missing}")
    return 0
