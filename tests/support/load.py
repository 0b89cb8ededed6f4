"""A small load client: many POSTs over a few keep-alive connections (asyncio + aiohttp)."""

import asyncio
import collections
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class Submitted:
    """What a load run got back: the ids answered 202, every other status counted."""

    ids: list[str] = field(default_factory=list)
    refused: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.ids) / self.seconds if self.seconds else 0.0


async def post_emails(
    base: str,
    email: dict[str, Any],
    count: int,
    connections: int = 32,
    headers: dict[str, str] | None = None,
    request_timeout: float = 60.0,
) -> Submitted:
    """POST `email` `count` times to `base`/api/v1/email over `connections` connections."""
    body = json.dumps(email).encode()
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    url = f"{base}/api/v1/email"
    result = Submitted()
    left = count

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            try:
                async with session.post(url, data=body, headers=sent_headers) as reply:
                    answer = await reply.read()
                    if reply.status == 202:
                        result.ids.append(json.loads(answer)["id"])
                    else:
                        result.refused[reply.status] += 1
            except (aiohttp.ClientError, TimeoutError) as error:
                result.errors[type(error).__name__] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(connections)))
        result.seconds = time.perf_counter() - started
    return result


def submit(
    base: str,
    email: dict[str, Any],
    count: int,
    connections: int = 32,
    headers: dict[str, str] | None = None,
) -> Submitted:
    """`post_emails` on an event loop of its own (call it from a thread or a plain test)."""
    return asyncio.run(post_emails(base, email, count, connections, headers))
