"""Per-key sending limits: a token bucket for the rate, a counter for the day. Pure: the caller
passes the time."""

from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int  # the limit that applies (the stricter one when refused)
    remaining: int
    reset: float  # seconds until that limit resets
    retry_after: float = 0.0


@dataclass(slots=True)
class KeyBudget:
    """One key's budget: `rate` per second with bursts of `burst`, and `daily` per UTC day
    (0 turns either off)."""

    rate: float
    burst: int
    daily: int
    tokens: float = -1.0
    refilled_at: float = 0.0
    day: int = -1
    sent_today: int = 0

    def take(self, now: float) -> Verdict:
        self._roll_day(now)
        if self.daily and self.sent_today >= self.daily:
            reset = (self.day + 1) * DAY - now
            return Verdict(False, self.daily, 0, reset, retry_after=reset)
        if self.rate:
            self._refill(now)
            if self.tokens < 1:
                wait = (1 - self.tokens) / self.rate
                return Verdict(False, self.burst, 0, wait, retry_after=wait)
            self.tokens -= 1
        self.sent_today += 1
        return self._allowed(now)

    def take_many(self, count: int, now: float) -> int:
        """Take up to `count` emails at once: how many were taken, as many as `count` takes
        in a row at `now` would have allowed."""
        self._roll_day(now)
        taken = count
        if self.daily:
            taken = min(taken, max(0, self.daily - self.sent_today))
        if self.rate:
            self._refill(now)
            taken = min(taken, max(0, int(self.tokens)))  # each take needs a whole token
            self.tokens -= taken
        self.sent_today += taken
        return taken

    def seed(self, sent_today: int, now: float) -> None:
        """Start from what storage says this key sent today (another process, a restart)."""
        self._roll_day(now)
        self.sent_today = max(self.sent_today, sent_today)

    def _allowed(self, now: float) -> Verdict:
        if self.daily:
            return Verdict(
                True, self.daily, self.daily - self.sent_today, (self.day + 1) * DAY - now
            )
        return Verdict(True, self.burst, int(self.tokens), 1.0)

    def _roll_day(self, now: float) -> None:
        day = int(now // DAY)
        if day != self.day:
            self.day, self.sent_today = day, 0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.refilled_at = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
