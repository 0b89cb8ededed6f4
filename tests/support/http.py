"""A small HTTP client for the end-to-end tests: real sockets, nothing shared with the server."""

import http.client
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | Iterable[bytes] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """Send one request; `body` is sent as JSON unless `raw` bytes (or chunks) are given."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    sent_headers = dict(headers or {})
    payload: bytes | Iterable[bytes] | None = raw
    if body is not None:
        payload = json.dumps(body).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    chunked = payload is not None and not isinstance(payload, bytes)
    try:
        conn.request(method, parts.path, body=payload, headers=sent_headers, encode_chunked=chunked)
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def post_email(base: str, email: dict[str, Any], **headers: str) -> Reply:
    return request("POST", f"{base}/api/v1/email", email, headers)
