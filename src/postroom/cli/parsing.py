"""How a subcommand is declared: its settings become flags beside their POSTROOM_* variables."""

import argparse
from collections.abc import Callable, Sequence

from postroom.settings import Settings, options

Commands = "argparse._SubParsersAction[argparse.ArgumentParser]"
Run = Callable[[Settings, argparse.Namespace], int]

STORAGE_FLAGS = ("database_url", "queue_url", "log_level")
SERVER_FLAGS = (
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
    "address_key",
    "retention_days",
    "host",
    "port",
    "database_url",
    "queue_url",
    "providers",
    "max_body_bytes",
    "smtp_port",
    "smtp_tls_port",
    "smtp_idle_timeout",
    "smtp_data_timeout",
    "webhook_allow_cidrs",
    "webhook_schedule",
    "webhook_timeout",
    "webhook_concurrency",
    "log_level",
)
# `postroom smtp`: what the SMTP intake shares with the API's, and its own ports and timeouts.
SMTP_FLAGS = (
    "smtp_port",
    "smtp_tls_port",
    "smtp_idle_timeout",
    "smtp_data_timeout",
    "insecure_no_auth",
    "tls_cert",
    "tls_key",
    "max_connections_per_client",
    "rate_limit",
    "daily_quota",
    "encryption_keys",
    "address_key",
    "host",
    "database_url",
    "queue_url",
    "max_body_bytes",
    "log_level",
)
WORKER_FLAGS = (
    "database_url",
    "queue_url",
    "providers",
    "concurrency",
    "max_attempts",
    "visibility_timeout",
    "metrics_port",
    "encryption_keys",
    "address_key",
    "retention_days",
    "webhook_allow_cidrs",
    "webhook_schedule",
    "webhook_timeout",
    "webhook_concurrency",
    "log_level",
)


def command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    run: Run,
    help_text: str,
    flags: Sequence[str],
    settings: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand taking `flags` (setting names); `run(settings, args)` is its exit code."""
    sub = commands.add_parser(name, help=help_text, description=help_text)
    defaults = Settings()
    # Every command that logs takes the log format beside the log level.
    for flag in (*flags, "log_format") if "log_level" in flags else flags:
        _add_flag(sub, flag, getattr(defaults, flag))
    sub.set_defaults(run=run, needs_settings=settings)
    return sub


def _add_flag(sub: argparse.ArgumentParser, flag: str, default: object) -> None:
    option = options()[flag]
    shown = ",".join(default) if isinstance(default, tuple) else default
    shown = "(none)" if shown == "" else shown
    text = f"{option.help} [env {option.env}; default {shown!s}]"
    name = f"--{flag.replace('_', '-')}"
    if isinstance(default, bool):
        sub.add_argument(name, dest=flag, action="store_const", const="true", help=text)
    else:
        sub.add_argument(name, dest=flag, metavar=option.metavar, help=text)
