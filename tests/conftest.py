"""Fixtures every suite shares: conformance data, a settable clock, the provider simulator."""

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from postroom.simulator.app import create_simulator_app
from postroom.simulator.behaviour import Simulator
from tests.support.moto import MotoServer, running_moto, use_fake_aws_credentials

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "data" / "conformance"


def conformance(relative: str) -> Any:
    """A file of the conformance data in tests/data/conformance (sources in its SOURCES.md)."""
    return json.loads((CONFORMANCE / relative).read_text())


class ManualClock:
    """A clock tests move by hand, so time-dependent behaviour needs no sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start
        # Other clocks moved along with this one (an emulator's, for timers it keeps itself).
        self.followers: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds
        for follow in self.followers:
            follow(seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@dataclass
class RunningSimulator:
    url: str
    simulator: Simulator


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    """The provider simulator on a free local port, serving real HTTP."""
    sim = Simulator(seed=1)
    # A short shutdown timeout: a test that left a request hanging must not stall teardown.
    runner = web.AppRunner(create_simulator_app(sim), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield RunningSimulator(f"http://127.0.0.1:{port}", sim)
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
def _moto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    # One process for the session (it takes a second or two to start); each test gets a reset.
    with running_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def moto_server(
    _moto_session: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> MotoServer:
    """Moto's server, emptied and its clock back at now, with moto's dummy credentials in this
    test's environment only."""
    _moto_session.reset()
    use_fake_aws_credentials(monkeypatch, tmp_path)
    return _moto_session
