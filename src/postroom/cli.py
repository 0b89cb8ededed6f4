"""The `postroom` command: one function per subcommand.

Every flag is also read from its POSTROOM_* variable (shown in --help); a flag wins over the
variable. This module and the settings loader are the only readers of the environment.
"""

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence

from prometheus_client import start_http_server

from postroom import __version__, logs
from postroom.bootstrap import (
    ConfigError,
    StorageStartError,
    build_worker,
    check_storage,
    open_cipher,
    open_storage,
    prepare_start,
    probe_providers,
    purge_periodically,
    refresh_periodically,
)
from postroom.domain.errors import StorageUnavailableError
from postroom.metrics.prometheus import PrometheusMetrics
from postroom.settings import Settings, SettingsError, load_settings, options

_SERVER_FLAGS = (
    "insecure_no_auth",
    "tls_cert",
    "tls_key",
    "max_connections",
    "body_timeout",
    "header_timeout",
    "keepalive_timeout",
    "max_connections_per_client",
    "rate_limit",
    "daily_quota",
    "encryption_keys",
    "retention_days",
    "host",
    "port",
    "database_url",
    "queue_url",
    "providers",
    "max_body_bytes",
    "log_level",
)
_WORKER_FLAGS = (
    "database_url",
    "queue_url",
    "providers",
    "concurrency",
    "max_attempts",
    "visibility_timeout",
    "metrics_port",
    "encryption_keys",
    "retention_days",
    "log_level",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = _settings(args) if args.needs_settings else Settings()
        return int(args.run(settings, args))
    except (SettingsError, ConfigError) as error:
        print(f"postroom: error: {error}", file=sys.stderr)
        return 2
    except StorageStartError as error:
        print(f"postroom: error: {error}", file=sys.stderr)
        return 1
    except StorageUnavailableError as error:
        # An operator command that lost storage midway: one line, no traceback.
        print(f"postroom: storage unavailable: {error}", file=sys.stderr)
        return 1


def _settings(args: argparse.Namespace) -> Settings:
    environ = dict(os.environ)
    for name, option in options().items():
        value = getattr(args, name, None)
        if value is not None:
            environ[option.env] = str(value)
    return load_settings(environ)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postroom", description="Transactional email service.")
    parser.add_argument("--version", action="version", version=f"postroom {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _command(
        commands,
        "serve",
        cmd_serve,
        "run the API and a worker in one process",
        (*_SERVER_FLAGS, "concurrency", "max_attempts", "visibility_timeout"),
    )
    _command(commands, "api", cmd_api, "run the API only", (*_SERVER_FLAGS, "processes"))
    _command(commands, "worker", cmd_worker, "run a delivery worker only", _WORKER_FLAGS)
    check = _command(
        commands,
        "check",
        cmd_check,
        "check that storage is reachable (exit 1 if not)",
        ("database_url", "queue_url", "log_level"),
    )
    check.add_argument(
        "--providers",
        dest="probe_providers",
        action="store_true",
        help="also probe each provider of POSTROOM_PROVIDERS without sending mail",
    )
    _command(
        commands,
        "migrate",
        cmd_migrate,
        "bring the database schema up to date (PostgreSQL; SQLite does it by itself)",
        ("database_url", "queue_url", "log_level"),
    )
    _dead_commands(commands)
    _sqs_commands(commands)
    _key_commands(commands)
    _encryption_commands(commands)
    _command(
        commands,
        "purge",
        cmd_purge,
        "purge content past the retention period now",
        ("database_url", "queue_url", "retention_days", "log_level"),
    )
    fake = _command(
        commands,
        "fake-provider",
        cmd_fake_provider,
        "serve the provider simulator (Mailgun, SendGrid, Postmark APIs)",
        (),
        settings=False,
    )
    fake.add_argument(
        "--host", default="127.0.0.1", help="address to listen on [default 127.0.0.1]"
    )
    fake.add_argument("--port", type=int, default=8025, help="port to listen on [default 8025]")
    fake.add_argument(
        "--key", default=None, help="accept only this API key [default: any non-empty key]"
    )
    for switch, kind, text in (
        ("latency-ms", float, "delay every answer by this many milliseconds"),
        ("error-rate", float, "share of requests answered 500 (0 to 1)"),
        ("throttle-retry-after", int, "answer every request 429 with this Retry-After"),
    ):
        fake.add_argument(f"--{switch}", type=kind, default=0, help=text)
    fake.add_argument("--outage", action="store_true", help="answer every request 503")
    return parser


def _key_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    flags = ("database_url", "queue_url", "log_level")
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    verbs = keys.add_subparsers(title="key commands", metavar="VERB")
    create = _command(verbs, "create", cmd_keys_create, "create a key and print it once", flags)
    create.add_argument("--name", required=True, help="what the key is for")
    _command(verbs, "list", cmd_keys_list, "list keys (never the keys themselves)", flags)
    revoke = _command(verbs, "revoke", cmd_keys_revoke, "revoke a key", flags)
    revoke.add_argument("key", metavar="ID_OR_PREFIX", help="the key's id or its shown prefix")


def _encryption_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    encryption = commands.add_parser("encryption", help="keys for content at rest")
    verbs = encryption.add_subparsers(title="encryption commands", metavar="VERB")
    _command(
        verbs,
        "new-key",
        cmd_encryption_new_key,
        "print a fresh ID:BASE64KEY entry",
        (),
        settings=False,
    )
    _command(
        verbs,
        "rotate",
        cmd_encryption_rotate,
        "re-encrypt stored content under the first key",
        ("database_url", "queue_url", "encryption_keys", "log_level"),
    )


def _dead_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    flags = ("database_url", "queue_url", "log_level")
    dead = commands.add_parser("dead", help="list and redrive dead-lettered emails")
    verbs = dead.add_subparsers(title="dead-letter commands", metavar="VERB")
    listing = _command(verbs, "list", cmd_dead_list, "list dead-lettered emails", flags)
    listing.add_argument("--limit", type=int, default=100, help="at most this many [default 100]")
    redrive = _command(
        verbs, "redrive", cmd_dead_redrive, "queue dead-lettered emails again", flags
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
    create = _command(
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
    _command(
        verbs,
        "requeue",
        cmd_sqs_requeue,
        "send a message for every email still waiting (heals lost messages; duplicates are safe)",
        ("database_url", "queue_url", "log_level"),
    )


def _command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    run: Callable[[Settings, argparse.Namespace], int],
    help_text: str,
    flags: Sequence[str],
    settings: bool = True,
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    defaults = Settings()
    # Every command that logs takes the log format beside the log level.
    for flag in (*flags, "log_format") if "log_level" in flags else flags:
        option = options()[flag]
        default = getattr(defaults, flag)
        shown = ",".join(default) if isinstance(default, tuple) else default
        shown = "(none)" if shown == "" else shown
        text = f"{option.help} [env {option.env}; default {shown!s}]"
        name = f"--{flag.replace('_', '-')}"
        if isinstance(default, bool):
            sub.add_argument(name, dest=flag, action="store_const", const="true", help=text)
        else:
            sub.add_argument(name, dest=flag, metavar=option.metavar, help=text)
    sub.set_defaults(run=run, needs_settings=settings)
    return sub


def _preflight(settings: Settings, command: str) -> None:
    """Start-up checks (bootstrap.prepare_start), then the first key if one was made, then the
    banner."""
    from postroom.serving import banner

    started = asyncio.run(prepare_start(settings, first_key=command == "serve"))
    if started.first_key:
        print(
            f"Created the first API key (shown once, store it now):\n\n    {started.first_key}\n\n"
            "Send it as: Authorization: Bearer <key>. More: postroom keys create --name NAME\n",
            flush=True,
        )
    text = logs.use_text(settings.log_format, sys.stderr)
    print(banner(settings, command, text, started.sqlite_file), flush=True)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.serving import serve

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "serve")
    serve(settings, with_worker=True)
    return 0


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.serving import serve_processes

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "api")
    serve_processes(settings)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop

    from postroom.serving import tune_interpreter

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "worker")
    tune_interpreter()
    uvloop.run(_run_worker(settings))
    return 0


async def _run_worker(settings: Settings) -> None:
    storage = open_storage(settings)
    runtime = build_worker(settings, storage, PrometheusMetrics())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background = [asyncio.create_task(purge_periodically(storage, settings, stop))]
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.host, runtime.metrics.registry)
        background.append(asyncio.create_task(refresh_periodically(runtime, stop)))
    try:
        await runtime.worker.run(stop)
    finally:
        await asyncio.gather(*background)
        await runtime.close()
        await storage.close()


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    async def check() -> int:
        storage = open_storage(settings)
        try:
            await check_storage(settings, storage)  # StorageStartError: exit 1, as at start-up
        finally:
            await storage.close()
        print("storage ok")
        return await check_providers() if args.probe_providers else 0

    async def check_providers() -> int:
        failed = 0
        for name, url, probe in await probe_providers(settings):
            verdict = "ok" if probe.ok else f"{probe.error}: {probe.cause}"
            print(f"provider {name} {url}: {verdict}")
            failed += not probe.ok
        return 1 if failed else 0

    return asyncio.run(check())


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def migrate() -> int:
        storage = open_storage(settings)
        # Only engines with versioned migrations on request have them; SQLite creates and
        # upgrades its schema by itself when the file is opened.
        try:
            applied = await storage.migrations.migrate() if storage.migrations else []
        except StorageUnavailableError as error:
            print(f"postroom: storage unreachable: {error}", file=sys.stderr)
            return 1
        finally:
            await storage.close()
        print(f"applied {', '.join(applied)}" if applied else "schema up to date")
        return 0

    return asyncio.run(migrate())


def cmd_dead_list(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import list_dead

    return asyncio.run(list_dead(open_storage(settings), args.limit))


def cmd_dead_redrive(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import redrive_dead

    return asyncio.run(redrive_dead(open_storage(settings), args.ids, args.dry_run))


def cmd_sqs_create_queues(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import create_sqs_queues

    if not settings.queue_url.startswith("sqs://"):
        print("postroom: POSTROOM_QUEUE_URL: expected sqs://REGION/QUEUE_NAME", file=sys.stderr)
        return 2
    return asyncio.run(
        create_sqs_queues(settings.queue_url, settings.visibility_timeout, args.max_receives)
    )


def cmd_sqs_requeue(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import requeue

    return asyncio.run(requeue(open_storage(settings)))


def cmd_fake_provider(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.simulator.serve import run_simulator

    switches = {
        "latency_ms": args.latency_ms,
        "error_rate": args.error_rate,
        "throttle_retry_after": args.throttle_retry_after,
        "outage": args.outage,
    }
    run_simulator(args.host, args.port, args.key, switches)
    return 0


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import KeyNameError, create_named_key

    try:
        print(asyncio.run(create_named_key(open_storage(settings), args.name)))
    except KeyNameError as error:
        print(f"postroom: error: --name: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import list_keys

    return asyncio.run(list_keys(open_storage(settings)))


def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import revoke_key

    return asyncio.run(revoke_key(open_storage(settings), args.key))


def cmd_encryption_new_key(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.ciphers.aesgcm import new_key_entry

    print(new_key_entry())
    return 0


def cmd_encryption_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import rotate

    if not settings.encryption_keys:
        print(
            "postroom: error: POSTROOM_ENCRYPTION_KEYS: set the new key first, then rotate",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(rotate(open_storage(settings), open_cipher(settings)))


def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.admin import purge

    return asyncio.run(purge(open_storage(settings), settings.retention_days))
