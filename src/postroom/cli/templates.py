"""`postroom templates`: a tenant's templates from the command line (docs/templates.md).

Each command runs one call of services/templates.py on the configured storage and prints what
it returned; `create` and `update` read a definition as the API takes it, from a JSON file
(`-` for standard input).
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from postroom.api.templates import view_body
from postroom.bootstrap import open_templates
from postroom.cli.parsing import command
from postroom.domain.errors import InvalidEmailError
from postroom.domain.keys import DEFAULT_TENANT
from postroom.ports.templates import TemplateSummary
from postroom.services.templates import (
    MAX_PAGE,
    TemplateExistsError,
    TemplateNotFoundError,
    Templates,
)
from postroom.settings import Settings

T = TypeVar("T")

FLAGS = ("database_url", "queue_url", "log_level")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    templates = commands.add_parser(
        "templates", help="list, show, create, update, publish and delete email templates"
    )
    verbs = templates.add_subparsers(title="template commands", metavar="VERB")
    listing = command(verbs, "list", cmd_list, "list a tenant's templates by name", FLAGS)
    show = command(verbs, "show", cmd_show, "print a template's newest version as JSON", FLAGS)
    create = command(verbs, "create", cmd_create, "store a new template (a draft)", FLAGS)
    update = command(verbs, "update", cmd_update, "store an edit as the next draft", FLAGS)
    publish = command(verbs, "publish", cmd_publish, "make the newest version current", FLAGS)
    delete = command(verbs, "delete", cmd_delete, "remove a template and its versions", FLAGS)
    for verb in (show, update, publish, delete):
        verb.add_argument("name", metavar="NAME", help="the template's name")
    for verb in (create, update):
        verb.add_argument("file", metavar="FILE", help="the definition as JSON (- for stdin)")
    for verb in (listing, show, create, update, publish, delete):
        verb.add_argument(
            "--tenant",
            default=DEFAULT_TENANT,
            help=f"whose templates (API keys have a tenant) [default {DEFAULT_TENANT}]",
        )


def _on_templates(settings: Settings, use: Callable[[Templates], Awaitable[T]]) -> T | None:
    """Run `use` on the configured storage's templates; None, with the reason printed, when
    the template is missing, taken or invalid."""

    async def run() -> T:
        templates, storage = open_templates(settings)
        try:
            return await use(templates)
        finally:
            await storage.close()

    try:
        return asyncio.run(run())
    except TemplateNotFoundError as error:
        print(f"postroom: no template named {error}", file=sys.stderr)
    except TemplateExistsError as error:
        print(f"postroom: a template named {error} exists; update it instead", file=sys.stderr)
    except InvalidEmailError as error:
        for path, reason in error.errors.items():
            print(f"postroom: error: {path}: {reason}", file=sys.stderr)
    return None


def _definition(path: str) -> Any:
    with open(sys.stdin.fileno() if path == "-" else path, encoding="utf-8", closefd=False) as f:
        return json.load(f)


def _versioned(found: tuple[str, int] | None) -> int:
    if found is None:
        return 1
    print(json.dumps({"id": found[0], "version": found[1]}))
    return 0


_HEADER = f"{'name':24}  {'version':>7}  {'published':>9}  {'updated (UTC)':16}  id"


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def every(templates: Templates) -> bool:
        # Printed a page at a time, as the API pages it: never held in memory whole.
        print(_HEADER)
        cursor: str | None = ""
        while cursor is not None:
            page, cursor = await templates.page(args.tenant, cursor, MAX_PAGE)
            for summary in page:
                print(_row(summary))
        return True

    return 0 if _on_templates(settings, every) else 1


def _row(summary: TemplateSummary) -> str:
    published = "-" if summary.current is None else summary.current
    updated = datetime.fromtimestamp(summary.updated_at, UTC).strftime("%Y-%m-%d %H:%M")
    return f"{summary.name:24}  {summary.latest:>7}  {published!s:>9}  {updated:16}  {summary.id}"


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    view = _on_templates(settings, lambda t: t.get(args.tenant, args.name))
    if view is None:
        return 1
    print(json.dumps(view_body(view), indent=2))
    return 0


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    data = _definition(args.file)
    return _versioned(_on_templates(settings, lambda t: t.create(args.tenant, data)))


def cmd_update(settings: Settings, args: argparse.Namespace) -> int:
    data = _definition(args.file)
    return _versioned(_on_templates(settings, lambda t: t.update(args.tenant, args.name, data)))


def cmd_publish(settings: Settings, args: argparse.Namespace) -> int:
    return _versioned(_on_templates(settings, lambda t: t.publish(args.tenant, args.name)))


def cmd_delete(settings: Settings, args: argparse.Namespace) -> int:
    async def delete(templates: Templates) -> bool:
        await templates.delete(args.tenant, args.name)
        return True

    return 0 if _on_templates(settings, delete) else 1
