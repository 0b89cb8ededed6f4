"""Per-key sending limits: token bucket and daily quota, at explicit times."""

from postroom.domain.limits import DAY, KeyBudget

NOON = 20_000 * DAY + DAY / 2


def test_rate_allows_a_burst_then_refills() -> None:
    """A burst of `burst` passes; the next waits 1/rate seconds; time refills the bucket."""
    budget = KeyBudget(rate=2, burst=4, daily=0)
    assert all(budget.take(NOON).allowed for _ in range(4))
    refused = budget.take(NOON)
    assert not refused.allowed
    assert refused.retry_after == 0.5
    assert budget.take(NOON + 0.5).allowed
    assert not budget.take(NOON + 0.5).allowed


def test_daily_quota_resets_at_midnight_utc() -> None:
    """The day's quota refuses until the next UTC day, saying when that is."""
    budget = KeyBudget(rate=0, burst=1, daily=3)
    assert [budget.take(NOON).remaining for _ in range(3)] == [2, 1, 0]
    refused = budget.take(NOON)
    assert (refused.allowed, refused.limit, refused.retry_after) == (False, 3, DAY / 2)
    assert budget.take(NOON + DAY / 2).allowed


def test_seed_counts_what_others_sent() -> None:
    """A count from storage (another process, before a restart) uses up the day's quota."""
    budget = KeyBudget(rate=0, burst=1, daily=10)
    budget.seed(10, NOON)
    assert not budget.take(NOON).allowed


def test_taking_many_at_once_gives_what_takes_in_a_row_would() -> None:
    """A batch's one take gives as many emails as that many single takes at the same time."""
    for rate, burst, daily, sent in [(2, 4, 0, 0), (0, 1, 10, 7), (5, 10, 6, 0), (2, 4, 100, 99)]:
        one_by_one, at_once = KeyBudget(rate, burst, daily), KeyBudget(rate, burst, daily)
        one_by_one.seed(sent, NOON)
        at_once.seed(sent, NOON)
        expected = sum(one_by_one.take(NOON).allowed for _ in range(8))
        assert at_once.take_many(8, NOON) == expected
        assert at_once.take(NOON).allowed == one_by_one.take(NOON).allowed


def test_a_refused_take_many_takes_nothing() -> None:
    """Once the budget is spent a batch gets none, and the day's count does not grow."""
    budget = KeyBudget(rate=0, burst=1, daily=3)
    assert budget.take_many(5, NOON) == 3
    assert budget.take_many(5, NOON) == 0
    assert budget.sent_today == 3
