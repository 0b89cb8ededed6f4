"""The garbage collector's settings for a serving process (the API, a worker, or both), set
once its start-up is done."""

import gc

# Container objects allocated (net of those freed) between two young collections; CPython's
# default is 700. At full speed a worker has a hundred requests in flight, each a few dozen
# live objects: at 700 it collected every ~13 webhooks, walking them all each time and
# promoting them, so the rarer full collections walked ever more. At 10,000 nearly everything
# is freed by its reference count before a collection comes (2 in 10,000 webhooks, measured).
# The API gains too: a single email's intake about 16 µs of CPU (a batched email's 2 to 4),
# and a batch request keeps thousands of objects alive, which made full collections frequent
# (bench/batch.py, docs/benchmarks.md).
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """What start-up made (modules, settings, adapters) lives as long as the process: moved
    out of the collector's sight (gc.freeze), so a full collection walks only what came since,
    and young objects are collected less often. Together 20 to 30 µs of worker CPU per webhook at
    0 ms (docs/benchmarks.md, "Webhooks out")."""
    gc.collect()  # start-up's garbage goes first: frozen, it would never be collected
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
