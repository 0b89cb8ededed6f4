"""Delivery end to end in one process: SQLite queue, worker, router, real providers over HTTP
against the simulator."""

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from postroom.clocks.system import SystemClock
from postroom.domain.message import Address
from postroom.domain.retry import RetryPolicy
from postroom.domain.states import State
from postroom.ports.provider import Provider
from postroom.ports.storage import Storage
from postroom.services.deliver import DeliverEmail
from postroom.storage.sqlite import sqlite_storage
from postroom.worker.loop import Worker
from tests.conftest import ManualClock, RunningSimulator
from tests.support.delivery import database, email, email_id_of, fill
from tests.support.delivery import mailgun as mailgun_provider
from tests.support.delivery import sendgrid as sendgrid_provider

_opened: list[Provider] = []


def mailgun(url: str, timeout: float = 5.0) -> Provider:
    provider = mailgun_provider(url, timeout)
    _opened.append(provider)
    return provider


def sendgrid(url: str, timeout: float = 5.0) -> Provider:
    provider = sendgrid_provider(url, timeout)
    _opened.append(provider)
    return provider


@pytest.fixture(autouse=True)
async def close_providers() -> AsyncIterator[None]:
    yield
    while _opened:
        await _opened.pop().close()


def worker_for(
    queue: Storage, providers: list[Provider], clock: object, concurrency: int = 32
) -> Worker:
    deliver = DeliverEmail(queue.queue, providers, clock, policy=RetryPolicy(max_attempts=25))  # type: ignore[arg-type]
    return Worker(queue.queue, deliver, concurrency=concurrency, idle_wait=0.01)


async def drain(worker: Worker, queue: Storage, limit: float = 120.0) -> None:
    """Run the worker until nothing is ready or in flight (bounded by `limit` seconds)."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(limit):
            while True:
                stats = await queue.queue.stats()
                if stats.ready == 0 and stats.in_flight == 0 and worker.in_flight == 0:
                    break
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_primary_outage_mid_run_delivers_everything_once(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """1,000 emails, the primary goes down after 300: every one accepted once, none dead."""
    clock = SystemClock()
    queue = sqlite_storage(database(tmp_path), clock)
    ids = await fill(queue.queue, 1000, clock)
    simulator.simulator.behaviour.update({"only": ["mailgun"], "outage_after": 300})
    providers: list[Provider] = [mailgun(simulator.url), sendgrid(simulator.url)]
    await drain(worker_for(queue, providers, clock), queue)
    accepted = simulator.simulator.accepted
    counts = collections.Counter(email_id_of(a) for a in accepted)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1
    by_provider = collections.Counter(a.provider for a in accepted)
    assert by_provider["mailgun"] >= 300
    assert by_provider["sendgrid"] >= 600
    stats = await queue.queue.stats()
    assert (stats.dead, stats.ready, stats.scheduled) == (0, 0, 0)
    await queue.close()


async def test_every_provider_down_then_back_dead_letters_nothing(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """All providers down for two hours of (simulated) time, then back: everything drains."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    ids = await fill(queue.queue, 50, clock)
    providers: list[Provider] = [mailgun(simulator.url), sendgrid(simulator.url)]
    worker = worker_for(queue, providers, clock)
    simulator.simulator.behaviour.update({"outage": True})
    while clock.now() < 1_800_000_000 + 2 * 3600:
        await worker.run_once()
        clock.advance(60)
    assert simulator.simulator.accepted == []
    simulator.simulator.behaviour.update({"outage": False})
    for _ in range(100):
        await worker.run_once()
        clock.advance(60)
        if (await queue.queue.stats()).scheduled == 0 and (await queue.queue.stats()).ready == 0:
            break
    assert sorted(email_id_of(a) for a in simulator.simulator.accepted) == sorted(ids)
    assert (await queue.queue.stats()).dead == 0
    status = await queue.emails.status(ids[0])
    assert status is not None
    assert status.state is State.SENT
    assert State.RETRYING in [e.state for e in status.events]
    await queue.close()


async def test_permanent_error_fails_at_once_without_failover(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """A recipient the provider refuses (400) fails the email on the first attempt; no failover."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    (email_id,) = await fill(queue.queue, 1, clock, email(to="not-an-address"))
    providers: list[Provider] = [mailgun(simulator.url), sendgrid(simulator.url)]
    await worker_for(queue, providers, clock).run_once()
    status = await queue.emails.status(email_id)
    assert status is not None
    assert (status.state, status.attempts) == (State.FAILED, 1)
    assert status.events[-1].provider == "mailgun"
    assert "http_400" in status.events[-1].reason
    assert simulator.simulator.requests == 1  # SendGrid was never asked
    assert (await queue.queue.stats()).dead == 1
    await queue.close()


async def test_throttling_backs_off_for_retry_after(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Every provider answers 429 with Retry-After 90: the email waits at least 90 s, then goes."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    (email_id,) = await fill(queue.queue, 1, clock)
    providers: list[Provider] = [mailgun(simulator.url), sendgrid(simulator.url)]
    worker = worker_for(queue, providers, clock)
    simulator.simulator.behaviour.update({"throttle_retry_after": 90})
    await worker.run_once()
    assert simulator.simulator.requests == 2
    simulator.simulator.behaviour.update({"throttle_retry_after": 0})
    clock.advance(89)
    assert await worker.run_once() == 0  # still waiting: neither queue nor circuits let it go
    clock.advance(1)
    assert await worker.run_once() == 1
    status = await queue.emails.status(email_id)
    assert status is not None
    assert status.state is State.SENT
    await queue.close()


async def test_unsupported_by_primary_goes_to_the_next(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Five tags: Mailgun (three at most) cannot express it, SendGrid sends it."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    tags = ("a", "b", "c", "d", "e")
    (email_id,) = await fill(queue.queue, 1, clock, email(tags=tags))
    providers: list[Provider] = [mailgun(simulator.url), sendgrid(simulator.url)]
    await worker_for(queue, providers, clock).run_once()
    status = await queue.emails.status(email_id)
    assert status is not None
    assert (status.state, status.events[-1].provider) == (State.SENT, "sendgrid")
    assert simulator.simulator.accepted[0].payload["categories"] == list(tags)
    await queue.close()


async def test_scheduled_email_is_never_sent_early(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """An email scheduled for T is not leased before T and is sent at T."""
    from postroom.ports.queue import NewEmail
    from postroom.services.codec import encode_email

    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    email_id = "0190aaaa-0000-7000-8000-000000000000"
    await queue.queue.put(
        NewEmail(email_id, encode_email(email()), clock.now() + 600, scheduled=True)
    )
    worker = worker_for(queue, [mailgun(simulator.url)], clock)
    clock.advance(599.9)
    assert await worker.run_once() == 0
    clock.advance(0.1)
    assert await worker.run_once() == 1
    assert simulator.simulator.accepted[0].payload["to"] == ["ann@example.org"]
    await queue.close()


async def test_already_sent_is_never_sent_again(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """A worker whose lease lapsed while another sent the email cannot settle it a second time."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    (email_id,) = await fill(queue.queue, 1, clock)
    (stale,) = await queue.queue.lease(1, 60)
    clock.advance(61)
    worker = worker_for(queue, [mailgun(simulator.url)], clock)
    assert await worker.run_once() == 1
    deliver = DeliverEmail(queue.queue, [mailgun(simulator.url)], clock)
    await deliver(stale)  # the stale holder sends, but cannot record a second outcome
    status = await queue.emails.status(email_id)
    assert status is not None
    assert [e.state for e in status.events].count(State.SENT) == 1
    assert Address("ann@example.org").email in simulator.simulator.accepted[0].payload["to"]
    await queue.close()


async def test_a_provider_that_takes_the_request_and_never_answers_is_retried_not_failed_over(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Mailgun takes the request and hangs past the timeout: the outcome is "unknown", the email
    is retried later on Mailgun again, and SendGrid (which would send a second copy) is not
    tried meanwhile."""
    clock = ManualClock()
    queue = sqlite_storage(database(tmp_path), clock)
    (email_id,) = await fill(queue.queue, 1, clock)
    simulator.simulator.behaviour.update({"only": ["mailgun"], "hang": True})
    providers: list[Provider] = [mailgun(simulator.url, timeout=0.3), sendgrid(simulator.url)]
    worker = worker_for(queue, providers, clock)
    assert await worker.run_once() == 1
    status = await queue.emails.status(email_id)
    assert status is not None
    assert status.state is State.RETRYING
    attempts = [(e.provider, e.outcome, e.code) for e in status.events if e.outcome]
    assert attempts == [("mailgun", "unknown", "unknown_timeout")]
    assert simulator.simulator.accepted == []  # SendGrid was not tried
    simulator.simulator.behaviour.update({"hang": False})
    clock.advance(3600)
    assert await worker.run_once() == 1
    assert [a.provider for a in simulator.simulator.accepted] == ["mailgun"]
    status = await queue.emails.status(email_id)
    assert status is not None
    assert (status.state, status.events[-1].provider) == (State.SENT, "mailgun")
    await queue.close()
