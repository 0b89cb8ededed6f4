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
    app.router.add_get("/_sim/webhooks", _get_webhooks)
    app.router.add_post("/_sim/webhooks", _set_webhooks)
    app.router.add_get("/_sim/webhooks/sent", _webhooks_sent)
    app.router.add_delete("/_sim/webhooks/sent", _forget_webhooks_sent)
    app.on_cleanup.append(_close_webhooks)
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


async def _get_webhooks(request: web.Request) -> web.Response:
    return web.json_response(simulator_of(request).webhooks.settings.as_dict())


async def _set_webhooks(request: web.Request) -> web.Response:
    """`{"urls": {provider: URL}, "mailgun_signing_key", "sendgrid_private_key" (PEM),
    "delay_seconds"}`, any of them; answers the settings as `GET` shows them."""
    settings = simulator_of(request).webhooks.settings
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of settings")
        settings.update(changes)
    except ValueError as error:  # json.JSONDecodeError is one
        return web.json_response({"message": str(error)}, status=400)
    return web.json_response(settings.as_dict())


async def _webhooks_sent(request: web.Request) -> web.Response:
    """Every webhook request made, as its receiver answered it in the end (after any retries),
    and how many emails are still being reported."""
    webhooks = simulator_of(request).webhooks
    sent = [s.as_dict() for s in webhooks.sent]
    return web.json_response({"count": len(sent), "pending": webhooks.pending, "sent": sent})


async def _forget_webhooks_sent(request: web.Request) -> web.Response:
    simulator_of(request).webhooks.sent.clear()
    return web.json_response({"count": 0})


async def _close_webhooks(app: web.Application) -> None:
    await app[SIMULATOR_KEY].webhooks.close()
