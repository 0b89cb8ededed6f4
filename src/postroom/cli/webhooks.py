"""`postroom webhooks`: where to point each provider's event webhooks (`urls`), and the
application's own endpoints that Postroom calls (docs/webhooks.md).

Endpoint commands run one call of services/webhook_endpoints.py on the configured storage; a
running worker sends what they enqueue (`test`, `replay`).
"""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from postroom.api.endpoints import attempt_body, endpoint_body
from postroom.bootstrap.events import webhook_urls
from postroom.bootstrap.webhooks import open_endpoints
from postroom.cli.parsing import command
from postroom.domain.keys import DEFAULT_TENANT
from postroom.domain.rules import rfc3339_seconds
from postroom.services.webhook_endpoints import Change, EndpointError, Endpoints
from postroom.settings import Settings

T = TypeVar("T")

FLAGS = ("database_url", "queue_url", "encryption_keys", "log_level")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    webhooks = commands.add_parser(
        "webhooks", help="provider event webhooks, and the endpoints Postroom calls"
    )
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
    _endpoint_commands(verbs)


def _endpoint_commands(verbs: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    add = command(verbs, "add", cmd_add, "register an endpoint; prints its secret once", FLAGS)
    add.add_argument("url", metavar="URL")
    _types_and_description(add)
    listing = command(verbs, "list", cmd_list, "list a tenant's endpoints", FLAGS)
    show = command(verbs, "show", cmd_show, "show an endpoint", FLAGS)
    update = command(verbs, "update", cmd_update, "change an endpoint", FLAGS)
    update.add_argument("--url")
    _types_and_description(update)
    switch = update.add_mutually_exclusive_group()
    switch.add_argument("--enable", dest="enabled", action="store_true", default=None)
    switch.add_argument("--disable", dest="enabled", action="store_false")
    delete = command(verbs, "delete", cmd_delete, "delete an endpoint and its messages", FLAGS)
    test = command(verbs, "test", cmd_test, "send the endpoint a webhook.test event", FLAGS)
    rotate = command(verbs, "rotate", cmd_rotate, "a new secret; the old signs for a day", FLAGS)
    attempts = command(verbs, "attempts", cmd_attempts, "an endpoint's latest attempts", FLAGS)
    attempts.add_argument("--limit", type=int, default=20)
    replay = command(verbs, "replay", cmd_replay, "send an endpoint's messages again", FLAGS)
    replay.add_argument("--since", help="RFC 3339 date-time [default: the first]")
    replay.add_argument("--until", help="RFC 3339 date-time [default: now]")
    replay.add_argument("--failed-only", action="store_true", help="only those that failed")
    replay.add_argument("--webhook-id", default="", help="only the message of this webhook-id")
    for verb in (show, update, delete, test, rotate, attempts, replay):
        verb.add_argument("id", metavar="ID", help="the endpoint's id (ep_...)")
    for verb in (add, listing, show, update, delete, test, rotate, attempts, replay):
        verb.add_argument(
            "--tenant", default=DEFAULT_TENANT, help=f"whose endpoints [default {DEFAULT_TENANT}]"
        )


def _types_and_description(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--types", help="event types, comma-separated [default: every type]")
    parser.add_argument("--description")


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


def _on_endpoints(settings: Settings, use: Callable[[Endpoints], Awaitable[T]]) -> T:
    async def run() -> T:
        endpoints, storage = open_endpoints(settings)
        try:
            return await use(endpoints)
        finally:
            await storage.close()

    return asyncio.run(run())


def _types(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _show(body: dict[str, Any]) -> None:
    for name, value in body.items():
        print(f"{name:16} {'' if value is None else value}")


def _missing(args: argparse.Namespace) -> int:
    print(f"postroom: error: no endpoint {args.id} in tenant {args.tenant}", file=sys.stderr)
    return 1


def _refused(error: EndpointError) -> int:
    print(f"postroom: error: {error}", file=sys.stderr)
    return 2


def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    types, description = _types(args.types) or [], args.description or ""
    try:
        endpoint, secret = _on_endpoints(
            settings, lambda e: e.create(args.tenant, args.url, types, description)
        )
    except EndpointError as error:
        return _refused(error)
    _show({**endpoint_body(endpoint), "secret": secret})
    return 0


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    found = _on_endpoints(settings, lambda e: e.every(args.tenant))
    for endpoint in found:
        state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
        print(f"{endpoint.id}  {state:10}  {endpoint.url}")
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    found = _on_endpoints(settings, lambda e: e.get(args.tenant, args.id))
    if found is None:
        return _missing(args)
    _show(endpoint_body(found))
    return 0


def cmd_update(settings: Settings, args: argparse.Namespace) -> int:
    change = Change(args.url, _types(args.types), args.description, args.enabled)
    try:
        found = _on_endpoints(settings, lambda e: e.update(args.tenant, args.id, change))
    except EndpointError as error:
        return _refused(error)
    if found is None:
        return _missing(args)
    _show(endpoint_body(found))
    return 0


def cmd_delete(settings: Settings, args: argparse.Namespace) -> int:
    if not _on_endpoints(settings, lambda e: e.delete(args.tenant, args.id)):
        return _missing(args)
    print(f"deleted {args.id}")
    return 0


def cmd_test(settings: Settings, args: argparse.Namespace) -> int:
    webhook_id = _on_endpoints(settings, lambda e: e.test(args.tenant, args.id))
    if webhook_id is None:
        return _missing(args)
    print(f"queued {webhook_id}: a running worker sends it")
    return 0


def cmd_rotate(settings: Settings, args: argparse.Namespace) -> int:
    found = _on_endpoints(settings, lambda e: e.rotate(args.tenant, args.id))
    if found is None:
        return _missing(args)
    endpoint, secret = found
    _show({"id": endpoint.id, "secret": secret})
    return 0


def cmd_attempts(settings: Settings, args: argparse.Namespace) -> int:
    found = _on_endpoints(settings, lambda e: e.attempts(args.tenant, args.id, args.limit))
    if found is None:
        return _missing(args)
    for attempt in found:
        body = attempt_body(attempt)
        outcome = body["status"] or body["error"]
        print(f"{body['at']}  {body['webhookId']:24}  {outcome!s:28}  {body['latencyMs']} ms")
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    since = rfc3339_seconds(args.since) if args.since else 0.0
    until = rfc3339_seconds(args.until) if args.until else 1e12
    if since is None or until is None:
        print("postroom: error: --since/--until: RFC 3339 date-times", file=sys.stderr)
        return 2
    try:
        count = _on_endpoints(
            settings,
            lambda e: e.replay(
                args.tenant, args.id, since, until, args.failed_only, args.webhook_id
            ),
        )
    except EndpointError as error:
        return _refused(error)
    if count is None:
        return _missing(args)
    print(f"{count} message(s) queued again")
    return 0
