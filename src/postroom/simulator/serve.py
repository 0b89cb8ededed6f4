"""`postroom fake-provider`: the simulator as a standalone server."""

from typing import Any

import uvloop
from aiohttp import web

from postroom.simulator.app import create_simulator_app
from postroom.simulator.behaviour import Simulator


def run_simulator(host: str, port: int, key: str | None, switches: dict[str, Any]) -> None:
    simulator = Simulator(api_key=key)
    simulator.behaviour.update(switches)
    print(
        f"provider simulator on http://{host}:{port} (Mailgun, SendGrid, Postmark; control: /_sim)"
    )
    web.run_app(
        create_simulator_app(simulator),
        host=host,
        port=port,
        print=None,
        loop=uvloop.new_event_loop(),
    )
