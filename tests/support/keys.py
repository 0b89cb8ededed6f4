"""API keys for end-to-end tests, made the way an operator makes them: `postroom keys create`."""

import os
import subprocess

from tests.support.server import POSTROOM, Server


def create_key(api: Server, name: str) -> str:
    """A new key for `api`'s data directory, as the command printed it."""
    done = subprocess.run(
        [POSTROOM, "keys", "create", "--name", name],
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
