"""Operator commands on stored emails: dead-letter listing and redrive.

Output names ids, times, attempt counts and providers only: a reason may quote the provider's
error text, which can hold addresses, so it stays behind the status API.
"""

import sys
from datetime import UTC, datetime

from postroom.domain.states import State
from postroom.ports.backend import Backend

PAGE = 500


async def list_dead(backend: Backend, limit: int) -> int:
    try:
        rows = await backend.dead(limit)
    finally:
        await backend.close()
    print(f"{'id':36}  {'failed at (UTC)':19}  {'attempts':>8}  provider")
    for row in rows:
        when = datetime.fromtimestamp(row.failed_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{row.id:36}  {when:19}  {row.attempts:>8}  {row.provider or '-'}")
    return 0


async def redrive_dead(backend: Backend, ids: list[str] | None, dry_run: bool) -> int:
    """Redrive the given ids, or every dead letter page by page with a progress line."""
    try:
        if ids:
            if dry_run:
                print(f"would redrive: {await _count_failed(backend, ids)}")
            else:
                print(f"redriven: {len(await backend.redrive(ids))}")
            return 0
        total = await _count(backend)
        done_count = 0 if dry_run else await _redrive_all(backend, total)
        print(f"would redrive: {total}" if dry_run else f"redriven: {done_count}")
        return 0
    finally:
        await backend.close()


async def _count_failed(backend: Backend, ids: list[str]) -> int:
    found = [await backend.status(email_id) for email_id in ids]
    return sum(1 for status in found if status is not None and status.state is State.FAILED)


async def _count(backend: Backend) -> int:
    total, after = 0, ""
    while page := await backend.dead(PAGE, after):
        total += len(page)
        after = page[-1].id
    return total


async def _redrive_all(backend: Backend, total: int) -> int:
    done, after = 0, ""
    while page := await backend.dead(PAGE, after):
        after = page[-1].id
        done += len(await backend.redrive([row.id for row in page]))
        _progress(done, total)
    if total:
        print(file=sys.stderr)
    return done


def _progress(done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()
