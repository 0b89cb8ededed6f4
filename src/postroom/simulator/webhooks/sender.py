"""Posting the webhooks: one background task per accepted email, its steps in order, each
request retried as the providers retry, and a record of every request made."""

import asyncio
import base64
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp

from postroom import logs
from postroom.simulator.events import Kind
from postroom.simulator.webhooks import mailgun, postmark, sendgrid
from postroom.simulator.webhooks.base import Event, Format, Post, steps
from postroom.simulator.webhooks.settings import WebhookSettings

FORMATS: dict[str, Format] = {
    "mailgun": mailgun.FORMAT,
    "sendgrid": sendgrid.FORMAT,
    "postmark": postmark.FORMAT,
}
# Pauses before the second, third and fourth try of a request the receiver answered with a 5xx
# or never answered. The providers go on for hours (Mailgun 8 h, SendGrid 24 h, Postmark 10
# tries); here a few short ones show a receiver's retry path without holding up a test.
RETRY_DELAYS = (0.1, 0.5, 2.0)
TIMEOUT = aiohttp.ClientTimeout(total=10)
_log = logs.get_logger("simulator")


@dataclass
class Sent:
    """One webhook request, as its receiver answered it in the end."""

    provider: str
    # Credentials masked.
    url: str
    message_id: str
    kinds: list[str]
    recipients: list[str]
    # The last answer's status; None when the receiver never answered, and `error` says why.
    status: int | None
    attempts: int
    error: str = ""
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Webhooks:
    """What the simulated providers report about the emails they took, and where: nothing for a
    provider without a URL in `settings`."""

    def __init__(self) -> None:
        self.settings = WebhookSettings()
        self.sent: list[Sent] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def pending(self) -> int:
        """Emails whose reports are still being posted."""
        return len(self._tasks)

    def wanted(self, provider: str) -> bool:
        return provider in self.settings.urls

    def report(self, provider: str, message_id: str, payload: dict[str, Any]) -> None:
        """Post the events of one email `provider` took, in a task of its own; call from the
        event loop. The task first runs when the send's handler next yields: for a normal
        answer, once aiohttp has handed the answer to the connection. The send never waits."""
        url = self.settings.urls.get(provider)
        if url is None:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._report(provider, url, message_id, payload))
        # The loop keeps only a weak reference: an unreferenced task can vanish mid-flight.
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def close(self) -> None:
        """Cancel every report still running and close the connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _report(
        self, provider: str, url: str, message_id: str, payload: dict[str, Any]
    ) -> None:
        form = FORMATS[provider]
        previous: list[tuple[str, Kind]] = []
        for step in steps(form.recipients(payload)):
            if any(kind is Kind.DEFERRED for _, kind in previous):
                await asyncio.sleep(self.settings.delay_seconds)
            now = time.time()
            events = [Event(kind, recipient, now) for recipient, kind in step]
            for post in form.build(message_id, payload, events, self.settings):
                self.sent.append(await self._deliver(provider, url, message_id, post))
            previous = step

    async def _deliver(self, provider: str, url: str, message_id: str, post: Post) -> Sent:
        """Post until the receiver answers below 500 or the retries run out. A retry sends the
        same bytes and signature, as a provider's retry does."""
        attempts = 0
        for pause in (0.0, *RETRY_DELAYS):
            await asyncio.sleep(pause)
            attempts += 1
            status, error = await self._post(url, post)
            if status is not None and status < 500:
                break
        return Sent(
            provider=provider,
            url=logs.mask_url(url),
            message_id=message_id,
            kinds=[event.kind.value for event in post.events],
            recipients=[event.recipient for event in post.events],
            status=status,
            attempts=attempts,
            error=error,
        )

    async def _post(self, url: str, post: Post) -> tuple[int | None, str]:
        """(the receiver's status, "") or (None, why there was none)."""
        target, auth = _split_credentials(url)
        headers = {**post.headers, **auth}
        try:
            async with self._client().post(target, data=post.body, headers=headers) as reply:
                await reply.read()
                return reply.status, ""
        except (aiohttp.ClientError, TimeoutError) as error:
            return None, type(error).__name__

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the loop it was made in.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    def _finished(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A payload the builders cannot read: said once, the send itself already answered.
            error = type(task.exception()).__name__
            logs.log_event(_log, "simulator_webhooks_failed", logging.ERROR, error=error)


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its user:password, and those as a basic auth header (how the providers
    send a hook URL's credentials; Postmark's only protection)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, {}
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return parts._replace(netloc=host).geturl(), header
