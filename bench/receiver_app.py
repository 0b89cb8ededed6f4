"""The application's webhook receiver for bench/webhooks.py: an aiohttp app on its own port.

    python bench/receiver_app.py --port 18492 --latency-ms 50
    python bench/receiver_app.py --port 18492 --record --forward URL

POST /hook answers 200 after `--latency-ms` (asyncio.sleep) and counts the request; with
`--record` it also keeps, per (email id, type), the time.time() the request arrived (read
first thing in the handler) and the payload's data.at. POST /forward (with `--forward URL`)
relays the provider simulator's webhooks: it notes the moment it hands each one (by its
`postroom_id`) on to Postroom, same bytes, and answers what Postroom answered; so the provider's
post and Postroom's webhook are timed on one clock. GET /count: arrivals so far, and the most
requests held at once; GET /wait/{email_id}/{type}: the arrival once there (waited on, not
polled); GET /forwarded/{email_id}: the relay's time.
"""

import argparse
import asyncio
import json
import time
from collections import defaultdict

import aiohttp
import uvloop
from aiohttp import web


def create_app(latency: float, record: bool, forward: str) -> web.Application:
    count = inflight = peak = 0
    # (email id, type) -> (arrival, the payload's data.at)
    arrived: dict[tuple[str, str], asyncio.Future[tuple[float, str]]] = defaultdict(
        lambda: asyncio.get_running_loop().create_future()
    )
    relayed: dict[str, float] = {}
    client: list[aiohttp.ClientSession] = []

    async def hook(request: web.Request) -> web.Response:
        nonlocal count, inflight, peak
        at = time.time()
        body = await request.read()
        count += 1
        inflight += 1
        peak = max(peak, inflight)
        if record:
            sent = json.loads(body)
            data = sent["data"]
            key = (data.get("email_id", ""), sent["type"])
            if not arrived[key].done():  # a retry keeps the first arrival
                arrived[key].set_result((at, data.get("at", "")))
        if latency:
            await asyncio.sleep(latency)
        inflight -= 1
        return web.Response(text="ok")

    async def relay(request: web.Request) -> web.Response:
        body = await request.read()
        email_id = json.loads(body)["event-data"]["user-variables"].get("postroom_id", "")
        if not client:
            client.append(aiohttp.ClientSession())
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        relayed.setdefault(email_id, time.time())  # the moment it is handed on to Postroom
        async with client[0].post(forward, data=body, headers=headers) as reply:
            return web.Response(status=reply.status, body=await reply.read())

    async def counted(request: web.Request) -> web.Response:
        return web.json_response({"count": count, "peak": peak})

    async def wait(request: web.Request) -> web.Response:
        key = (request.match_info["email_id"], request.match_info["type"])
        try:
            at, event_at = await asyncio.wait_for(asyncio.shield(arrived[key]), 30)
        except TimeoutError:
            return web.json_response({"at": None}, status=504)
        return web.json_response({"at": at, "event_at": event_at})

    async def forwarded(request: web.Request) -> web.Response:
        return web.json_response({"at": relayed.get(request.match_info["email_id"])})

    async def close(app: web.Application) -> None:
        for session in client:
            await session.close()

    app = web.Application()
    app.add_routes(
        [
            web.post("/hook", hook),
            web.post("/forward", relay),
            web.get("/count", counted),
            web.get("/wait/{email_id}/{type}", wait),
            web.get("/forwarded/{email_id}", forwarded),
        ]
    )
    app.on_cleanup.append(close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--record", action="store_true", help="keep each webhook's arrival")
    parser.add_argument("--forward", default="", help="relay POST /forward to this URL")
    args = parser.parse_args()
    app = create_app(args.latency_ms / 1000, args.record, args.forward)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
