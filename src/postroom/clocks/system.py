"""The wall clock."""

import time


class SystemClock:
    """The wall clock; the one place that reads time.time()."""

    def now(self) -> float:
        return time.time()
