"""Redriving the dead letters that match a filter: the last provider tried, its error class, or
both. A dry run counts what the filter matches; the redrive itself reads the dead letters
again, so one that died in between and matches is redriven too (as with "redrive all")."""

import logging
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response

from postroom.dashboard.parts import DashboardParts
from postroom.domain.circuit import Failure
from postroom.domain.errors import StorageUnavailableError
from postroom.logs import get_logger, log_event
from postroom.ports.dead import DeadLetter, DeadLetters
from postroom.web.responses import SAFE, error

log = get_logger("dashboard")

PAGE = 500
MAX_NAME_CHARS = 100
ERRORS = [str(f) for f in Failure]


@dataclass(frozen=True, slots=True)
class DeadMatch:
    """None: any."""

    provider: str | None = None
    error: str | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        return (self.provider is None or letter.provider == self.provider) and (
            self.error is None or letter.error == self.error
        )


def read_match(given: object) -> DeadMatch | str:
    """The filter of {"provider": NAME, "error": CLASS} (either may be "" for any, not both);
    or the line saying what is wrong."""
    if not isinstance(given, dict):
        return 'Send {"match": {"provider": NAME, "error": CLASS}}.'
    provider, failure = given.get("provider") or None, given.get("error") or None
    if provider is not None and (not isinstance(provider, str) or len(provider) > MAX_NAME_CHARS):
        return "The provider is a provider's name."
    if failure is not None and failure not in ERRORS:
        return f"The error class is one of {', '.join(ERRORS)}."
    if provider is None and failure is None:
        return 'Name a provider or an error class (or send {"all": true}).'
    return DeadMatch(provider, failure)


async def matching(dead: DeadLetters, match: DeadMatch) -> list[str]:
    """The ids of every dead letter the filter matches, in id order."""
    found, after = [], ""
    while page := await dead.dead(PAGE, after):
        after = page[-1].id
        found += [letter.id for letter in page if match(letter)]
    return found


async def redrive_matching(parts: DashboardParts, given: object, dry_run: bool) -> Response:
    """How many dead letters the filter matches (a dry run), or those redriven."""
    match = read_match(given)
    if isinstance(match, str):
        return error(400, "Bad request", match)
    try:
        ids = await matching(parts.dead, match)
        if dry_run:
            return JSONResponse({"dryRun": True, "count": len(ids)}, 200, SAFE)
        done = 0
        for start in range(0, len(ids), PAGE):
            done += await parts.redrive_ids(ids[start : start + PAGE])
    except StorageUnavailableError:
        return error(503, "Storage unavailable", "The store cannot be read; retry later.")
    fields = {"emails": done, "provider": match.provider or "", "error": match.error or ""}
    log_event(log, "dashboard.redriven", logging.INFO, **fields)
    return JSONResponse({"redriven": done}, 200, SAFE)
