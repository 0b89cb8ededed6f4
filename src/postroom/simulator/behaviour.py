"""The simulator's switches and its record of accepted emails, shared by every provider API."""

import asyncio
import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from postroom.simulator.webhooks.sender import Webhooks

AMBIGUOUS = frozenset({"", "empty", "garbage", "cut"})
# What a captive portal or a broken proxy might answer: neither JSON nor UTF-8.
GARBAGE = b"\xff\xfe<html><body>Gateway</body></html>"


@dataclass
class Behaviour:
    latency_ms: float = 0.0
    # Share of requests answered with a 500 (0.0 to 1.0).
    error_rate: float = 0.0
    # Every request answered with a 503, as a provider outage looks from outside.
    outage: bool = False
    # Requests are held open and never answered: the client's timeout must fire.
    hang: bool = False
    # Every request answered 429 with this Retry-After (seconds); 0 means off.
    throttle_retry_after: int = 0
    # Every request answered with this HTTP status, in the provider's own error shape (say 400,
    # 401 or 422, for a refusal of the email or of the credentials); 0 means off.
    fail_status: int = 0
    # Take the email, then answer 200 in a way a client cannot read (docs/providers/README.md,
    # "Ambiguous answers"): "empty" (no body), "garbage" (a body no provider sends), "cut"
    # (the status line and headers, then the connection closes); "" means off.
    ambiguous: str = ""
    # Turn `outage` on by itself once this many emails were accepted; 0 means off.
    outage_after: int = 0
    # Which provider APIs the switches apply to ("mailgun", "sendgrid", "postmark"); empty: all.
    only: list[str] = field(default_factory=list)
    # Set when an outage starts (by switch or by outage_after), for failover measurements.
    outage_since: float = 0.0

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name == "outage" and value:
                self.outage_since = time.time()
            if name not in asdict(self):
                raise ValueError(f"unknown switch {name!r}")
            if name == "ambiguous" and value not in AMBIGUOUS:
                raise ValueError(f"ambiguous must be one of {sorted(AMBIGUOUS)}")
            setattr(self, name, value)

    def applies_to(self, provider: str) -> bool:
        return not self.only or provider in self.only


class Accepted:
    """One accepted email: the provider, the id it was given, and what the provider received.

    A JSON API's email is kept as the raw body and decoded when `payload` is first read. A load
    test accepts hundreds of thousands of emails: kept as decoded dicts and lists, each costs
    kilobytes and a dozen objects that every full garbage collection walks, so the simulator
    slowed down as its record grew; a bytes object costs its length and nothing to the
    collector."""

    __slots__ = ("_payload", "_raw", "at", "files", "message_id", "provider")

    def __init__(
        self,
        provider: str,
        message_id: str,
        payload: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
        at: float | None = None,
        *,
        raw: bytes = b"",
    ) -> None:
        self.provider = provider
        self.message_id = message_id
        self.files = files if files is not None else []
        # When it was accepted (Unix seconds), for latency and failover measurements.
        self.at = time.time() if at is None else at
        self._payload = payload
        self._raw = raw

    @property
    def payload(self) -> dict[str, Any]:
        """What the provider received, decoded: JSON body, or form fields as {name: [values]}."""
        if self._payload is None:
            self._payload = json.loads(self._raw.decode("utf-8")) if self._raw else {}
        return self._payload

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "message_id": self.message_id,
            "payload": self.payload,
            "files": self.files,
            "at": self.at,
        }

    def __repr__(self) -> str:
        return f"Accepted({self.provider!r}, {self.message_id!r}, at={self.at!r})"


class Simulator:
    def __init__(self, seed: int | None = None, api_key: str | None = None) -> None:
        # None: any non-empty credential is accepted; else only this exact one.
        self.api_key = api_key
        self.behaviour = Behaviour()
        self.accepted: list[Accepted] = []
        self.requests = 0
        # Where the simulated providers report what became of each email; nowhere by default.
        self.webhooks = Webhooks()
        self._random = random.Random(seed)
        self._counter = 0

    def accepts_key(self, key: str | None) -> bool:
        """Whether a request's credential passes, as the provider would check it."""
        if not key:
            return False
        return self.api_key is None or key == self.api_key

    def next_id(self) -> str:
        self._counter += 1
        return f"sim-{self._counter:08d}"

    async def disturb(self, provider: str) -> web.Response | None:
        """Apply the switches: wait, hang, or return the failure response to send instead."""
        self.requests += 1
        b = self.behaviour
        if not b.applies_to(provider):
            return None
        if b.latency_ms:
            await asyncio.sleep(b.latency_ms / 1000)
        if b.outage_after and len(self.accepted) >= b.outage_after and not b.outage:
            b.update({"outage": True})
        if b.hang:
            await asyncio.Event().wait()
        if b.outage:
            return web.Response(status=503, text="Service Unavailable")
        if b.throttle_retry_after:
            headers = {"Retry-After": str(b.throttle_retry_after)}
            return web.json_response({"message": "Too many requests"}, status=429, headers=headers)
        if b.fail_status:
            return web.json_response(failure_body(provider, b.fail_status), status=b.fail_status)
        if b.error_rate and self._random.random() < b.error_rate:
            return web.Response(status=500, text="Internal Server Error")
        return None

    def record(self, accepted: Accepted) -> None:
        """Keep an accepted email, and report its events where its provider has a webhook URL
        (in the background: the send's answer is never delayed)."""
        self.accepted.append(accepted)
        if self.webhooks.wanted(accepted.provider):
            # Only then: reading `payload` decodes a raw body the record would rather keep raw.
            self.webhooks.report(accepted.provider, accepted.message_id, accepted.payload)

    async def answer(
        self, provider: str, request: web.Request, normal: web.StreamResponse
    ) -> web.StreamResponse:
        """The answer to an email just recorded: `normal`, or the `ambiguous` 200."""
        kind = self.behaviour.ambiguous if self.behaviour.applies_to(provider) else ""
        return await ambiguous_answer(kind, request) if kind else normal


async def ambiguous_answer(kind: str, request: web.Request) -> web.StreamResponse:
    """The 200 `kind` names ("empty", "garbage", "cut"), for any provider API."""
    if kind == "empty":
        return web.Response(status=200)
    if kind == "garbage":
        return web.Response(status=200, body=GARBAGE, content_type="text/html")
    if kind == "cut":
        return await _cut_after_head(request)
    raise ValueError(f"ambiguous must be one of {sorted(AMBIGUOUS)}")


async def _cut_after_head(request: web.Request) -> web.StreamResponse:
    """200 and headers promising a body, a few bytes of it, then the connection closes."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = 1000
    await response.prepare(request)
    await response.write(b'{"id": "')
    if request.transport is not None:
        request.transport.close()
    return response


# Postmark's ErrorCode for a status, where its API pairs one with it: 300 "invalid email request"
# comes with 422, 10 "bad or missing server token" with 401.
_POSTMARK_CODES = {422: 300, 401: 10}


def failure_body(provider: str, status: int) -> dict[str, Any]:
    """The error body `provider` answers with: Mailgun `{"message"}`, SendGrid
    `{"errors": [...]}`, Postmark `{"ErrorCode", "Message"}`."""
    text = f"simulated failure: HTTP {status}"
    if provider == "sendgrid":
        return {"errors": [{"message": text, "field": None, "help": None}]}
    if provider == "postmark" and status in _POSTMARK_CODES:
        return {"ErrorCode": _POSTMARK_CODES[status], "Message": text}
    return {"message": text}
