"""API keys for end-to-end tests, made the way an operator makes them: `postroom keys create`."""

import os
import subprocess

from tests.support.server import POSTROOM, Server

# Every scope but admin: tests of a route are not about scopes (tests/e2e/test_key_scopes.py is).
ALL_BUT_ADMIN = "send,read,webhooks,suppressions,templates"


def create_key(api: Server, name: str, scopes: str = ALL_BUT_ADMIN) -> str:
    """A new key for `api`'s data directory with these scopes, as the command printed it."""
    done = subprocess.run(
        [POSTROOM, "keys", "create", "--name", name, "--scope", scopes],
        capture_output=True,
        text=True,
        env={**os.environ, **api.env},
        cwd=api.workdir,
        timeout=60,
        check=True,
    )
    tokens = [word for word in done.stdout.split() if word.startswith("pr_")]
    assert len(tokens) == 1, done.stdout
    return tokens[0]
