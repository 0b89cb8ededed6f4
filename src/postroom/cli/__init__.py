"""The `postroom` command: one function per subcommand, printing only.

Every flag is also read from its POSTROOM_* variable (shown in --help); a flag wins over the
variable. This package and the settings loader are the only readers of the environment; every
adapter a command needs comes from bootstrap, the composition root.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from postroom import __version__
from postroom.bootstrap import ConfigError, StorageStartError, check_settings
from postroom.cli import (
    emails,
    operations,
    providers,
    service,
    suppressions,
    templates,
    webhooks,
)
from postroom.domain.errors import StorageUnavailableError
from postroom.services.operations import OperationError
from postroom.settings import Settings, SettingsError, load_settings, options


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
    except OperationError as error:
        print(f"postroom: {error}", file=sys.stderr)
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
    settings = load_settings(environ)
    check_settings(settings)
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postroom", description="Transactional email service.")
    parser.add_argument("--version", action="version", version=f"postroom {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    service.add_commands(commands)
    operations.add_commands(commands)
    emails.add_commands(commands)
    providers.add_commands(commands)
    suppressions.add_commands(commands)
    templates.add_commands(commands)
    webhooks.add_commands(commands)
    return parser
