from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server, server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `postroom api` process (no worker, so states stay put) for a module's tests."""
    running = server(tmp_path_factory.mktemp("api"), command="api").start()
    yield running
    running.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
