"""The simulator's aiohttp application: provider routes plus a small control API under /_sim."""

from dataclasses import asdict
from typing import Any

from aiohttp import web

from postroom.simulator.behaviour import Simulator

SIMULATOR_KEY = web.AppKey("simulator", Simulator)


def create_simulator_app(simulator: Simulator | None = None) -> web.Application:
    from postroom.simulator import mailgun, postmark, sendgrid

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[SIMULATOR_KEY] = simulator or Simulator()
    for module in (mailgun, sendgrid, postmark):
        module.add_routes(app)
    app.router.add_get("/_sim/behaviour", _get_behaviour)
    app.router.add_post("/_sim/behaviour", _set_behaviour)
    app.router.add_get("/_sim/accepted", _accepted)
    app.router.add_delete("/_sim/accepted", _reset)
    return app


def simulator_of(request: web.Request) -> Simulator:
    return request.app[SIMULATOR_KEY]


async def _get_behaviour(request: web.Request) -> web.Response:
    return web.json_response(asdict(simulator_of(request).behaviour))


async def _set_behaviour(request: web.Request) -> web.Response:
    changes: dict[str, Any] = await request.json()
    try:
        simulator_of(request).behaviour.update(changes)
    except ValueError as error:
        return web.json_response({"message": str(error)}, status=400)
    return web.json_response(asdict(simulator_of(request).behaviour))


async def _accepted(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    items = [a.as_dict() for a in simulator.accepted]
    return web.json_response(
        {"count": len(items), "requests": simulator.requests, "accepted": items}
    )


async def _reset(request: web.Request) -> web.Response:
    simulator = simulator_of(request)
    simulator.accepted.clear()
    simulator.requests = 0
    return web.json_response({"count": 0})
