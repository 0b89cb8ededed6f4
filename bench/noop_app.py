"""The baseline: a Starlette endpoint that reads the body and answers 202, stores nothing."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    await request.body()
    return Response(b'{"id":"x","status":"queued"}', 202, media_type="application/json")


app = Starlette(routes=[Route("/api/v1/email", accept, methods=["POST"])])
