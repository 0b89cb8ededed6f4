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
from postroom.bootstrap import ConfigError, build_worker, open_backend, refresh_periodically
from postroom.domain.errors import StorageUnavailableError
from postroom.metrics.prometheus import PrometheusMetrics
from postroom.settings import Settings, SettingsError, load_settings, options

_SERVER_FLAGS = (
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
    "log_level",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = _settings(args)
        return int(args.run(settings))
    except (SettingsError, ConfigError) as error:
        print(f"postroom: error: {error}", file=sys.stderr)
        return 2


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
        (*_SERVER_FLAGS, "concurrency", "max_attempts"),
    )
    _command(commands, "api", cmd_api, "run the API only", (*_SERVER_FLAGS, "processes"))
    _command(commands, "worker", cmd_worker, "run a delivery worker only", _WORKER_FLAGS)
    _command(
        commands,
        "check",
        cmd_check,
        "check that storage is reachable (exit 1 if not)",
        ("database_url", "queue_url", "log_level"),
    )
    return parser


def _command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    run: Callable[[Settings], int],
    help_text: str,
    flags: Sequence[str],
) -> None:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    defaults = Settings()
    for flag in flags:
        option = options()[flag]
        default = getattr(defaults, flag)
        shown = ",".join(default) if isinstance(default, tuple) else default
        sub.add_argument(
            f"--{flag.replace('_', '-')}",
            dest=flag,
            metavar="VALUE",
            help=f"{option.help} [env {option.env}; default {shown!s}]",
        )
    sub.set_defaults(run=run)


def cmd_serve(settings: Settings) -> int:
    from postroom.serving import serve

    logs.configure(settings.log_level)
    serve(settings, with_worker=True)
    return 0


def cmd_api(settings: Settings) -> int:
    from postroom.serving import serve_processes

    logs.configure(settings.log_level)
    serve_processes(settings)
    return 0


def cmd_worker(settings: Settings) -> int:
    logs.configure(settings.log_level)
    asyncio.run(_run_worker(settings))
    return 0


async def _run_worker(settings: Settings) -> None:
    backend = open_backend(settings)
    runtime = build_worker(settings, backend, PrometheusMetrics())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    background = []
    if settings.metrics_port:
        start_http_server(settings.metrics_port, settings.host, runtime.metrics.registry)
        background.append(asyncio.create_task(refresh_periodically(runtime, stop)))
    try:
        await runtime.worker.run(stop)
    finally:
        await asyncio.gather(*background)
        await runtime.close()
        await backend.close()


def cmd_check(settings: Settings) -> int:
    async def check() -> int:
        backend = open_backend(settings)
        try:
            await backend.ping()
        except StorageUnavailableError as error:
            print(f"postroom: storage unreachable: {error}", file=sys.stderr)
            return 1
        finally:
            await backend.close()
        print("storage ok")
        return 0

    return asyncio.run(check())
