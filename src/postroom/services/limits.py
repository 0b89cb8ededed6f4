"""Sending limits per API key, kept in this process and seeded from storage.

Each API process counts for itself and re-reads a key's count for the day from storage every
minute, so with N processes a key can briefly exceed its daily quota by what the others sent in
that minute; the rate limit applies per process.
"""

import time
from collections.abc import Awaitable, Callable

from postroom.domain.errors import StorageUnavailableError
from postroom.domain.limits import DAY, KeyBudget, Verdict
from postroom.ports.clock import Clock

RESEED_SECONDS = 60.0

CountSince = Callable[[str, float], Awaitable[int]]


class SendingLimits:
    def __init__(
        self,
        rate: float,
        daily: int,
        clock: Clock,
        count_since: CountSince,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = max(1, int(rate * 2))
        self._daily = daily
        self._clock = clock
        self._count_since = count_since
        self._monotonic = monotonic
        self._budgets: dict[str, KeyBudget] = {}
        self._seeded_at: dict[str, float] = {}

    async def check(self, key_id: str) -> Verdict:
        """Take one email from the key's budget, or say how long to wait."""
        budget = await self._budget(key_id)
        return budget.take(self._clock.now())

    async def check_many(self, key_id: str, count: int) -> int:
        """Take up to `count` emails from the key's budget at once (a batch): how many it
        gave, which go to the first that many emails."""
        budget = await self._budget(key_id)
        return budget.take_many(count, self._clock.now())

    async def _budget(self, key_id: str) -> KeyBudget:
        budget = self._budgets.get(key_id)
        if budget is None:
            budget = self._budgets[key_id] = KeyBudget(self._rate, self._burst, self._daily)
        if (
            self._daily
            and self._monotonic() - self._seeded_at.get(key_id, float("-inf")) > RESEED_SECONDS
        ):
            await self._seed(key_id, budget)
        return budget

    async def _seed(self, key_id: str, budget: KeyBudget) -> None:
        now = self._clock.now()
        try:
            budget.seed(await self._count_since(key_id, now - now % DAY), now)
        except StorageUnavailableError:
            return  # keep counting locally; the store answers again later
        self._seeded_at[key_id] = self._monotonic()
