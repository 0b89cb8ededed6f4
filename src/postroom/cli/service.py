"""The commands that run the service or look at it: serve, api, worker, check, migrate, and the
provider simulator."""

import argparse
import asyncio
import sys

from postroom import logs
from postroom.bootstrap import (
    check_storage,
    open_storage,
    prepare_start,
    probe_providers,
    run_worker,
)
from postroom.cli.parsing import SERVER_FLAGS, SMTP_FLAGS, STORAGE_FLAGS, WORKER_FLAGS, command
from postroom.domain.errors import StorageUnavailableError
from postroom.settings import Settings


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    serve_flags = (*SERVER_FLAGS, "concurrency", "max_attempts", "visibility_timeout")
    command(commands, "serve", cmd_serve, "run the API and a worker in one process", serve_flags)
    command(commands, "api", cmd_api, "run the API only", (*SERVER_FLAGS, "processes"))
    command(commands, "worker", cmd_worker, "run a delivery worker only", WORKER_FLAGS)
    command(commands, "smtp", cmd_smtp, "run the SMTP submission intake only", SMTP_FLAGS)
    check = command(
        commands,
        "check",
        cmd_check,
        "check that storage is reachable (exit 1 if not)",
        STORAGE_FLAGS,
    )
    check.add_argument(
        "--providers",
        dest="probe_providers",
        action="store_true",
        help="also probe each provider of POSTROOM_PROVIDERS without sending mail",
    )
    command(
        commands,
        "migrate",
        cmd_migrate,
        "bring the database schema up to date (PostgreSQL; SQLite does it by itself)",
        STORAGE_FLAGS,
    )
    _fake_provider_command(commands)


def _fake_provider_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    fake = command(
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
    _webhook_options(fake)


def _webhook_options(fake: argparse.ArgumentParser) -> None:
    fake.add_argument(
        "--webhook-url",
        action="append",
        default=[],
        metavar="PROVIDER=URL",
        help="post PROVIDER's (mailgun, sendgrid, postmark) webhooks to URL, as that provider"
        " would: events of *@simulator.example.com recipients, delivered for others;"
        " user:password in the URL is sent as basic auth (repeatable)",
    )
    fake.add_argument(
        "--mailgun-signing-key",
        default=None,
        help="sign Mailgun webhooks with this key [default: a random one, printed at start]",
    )
    fake.add_argument(
        "--sendgrid-private-key",
        default=None,
        metavar="PEMFILE",
        help="sign SendGrid webhooks with this P-256 private key"
        " [default: a new one; its public key is printed at start]",
    )


def _preflight(settings: Settings, command_name: str) -> None:
    """Start-up checks (bootstrap.prepare_start), then the first key if one was made, then the
    banner."""
    from postroom.cli.serving import banner

    started = asyncio.run(prepare_start(settings, first_key=command_name == "serve"))
    if started.first_key:
        print(
            f"Created the first API key (shown once, store it now):\n\n    {started.first_key}\n\n"
            "Send it as: Authorization: Bearer <key>. More: postroom keys create --name NAME\n",
            flush=True,
        )
    text = logs.use_text(settings.log_format, sys.stderr)
    print(banner(settings, command_name, text, started.sqlite_file), flush=True)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.cli.serving import serve

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "serve")
    serve(settings, with_worker=True)
    return 0


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.cli.serving import serve_processes

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "api")
    serve_processes(settings)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop

    from postroom.cli.serving import tune_interpreter

    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "worker")
    tune_interpreter()
    uvloop.run(run_worker(settings))
    return 0


def cmd_smtp(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop

    from postroom.bootstrap import ConfigError, run_smtp_intake
    from postroom.cli.serving import tune_interpreter

    if not settings.smtp_port and not settings.smtp_tls_port:
        raise ConfigError("POSTROOM_SMTP_PORT: postroom smtp needs a port to listen on")
    logs.configure(settings.log_level, settings.log_format)
    _preflight(settings, "smtp")
    tune_interpreter()
    uvloop.run(run_smtp_intake(settings))
    return 0


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


def cmd_fake_provider(settings: Settings, args: argparse.Namespace) -> int:
    from postroom.simulator.serve import run_simulator

    switches = {
        "latency_ms": args.latency_ms,
        "error_rate": args.error_rate,
        "throttle_retry_after": args.throttle_retry_after,
        "outage": args.outage,
    }
    try:
        # ValueError: bad webhook settings, found before anything is served.
        run_simulator(args.host, args.port, args.key, switches, _webhook_settings(args))
    except ValueError as error:
        print(f"postroom fake-provider: {error}", file=sys.stderr)
        return 2
    return 0


def _webhook_settings(args: argparse.Namespace) -> dict[str, object]:
    """The webhook options as the simulator's settings (WebhookSettings.update checks them);
    ValueError for a malformed --webhook-url or an unreadable key file."""
    urls = {}
    for item in args.webhook_url:
        provider, equals, url = item.partition("=")
        if not equals:
            # Not echoed: the URL may hold a password.
            raise ValueError("--webhook-url takes PROVIDER=URL (mailgun, sendgrid, postmark)")
        urls[provider] = url
    settings: dict[str, object] = {"urls": urls}
    if args.mailgun_signing_key is not None:
        settings["mailgun_signing_key"] = args.mailgun_signing_key
    if args.sendgrid_private_key is not None:
        try:
            with open(args.sendgrid_private_key, encoding="utf-8") as pem:
                settings["sendgrid_private_key"] = pem.read()
        except OSError as error:
            raise ValueError(f"--sendgrid-private-key: {error.strerror}") from None
    return settings
