"""The memory engine has nothing to open or release."""


class MemoryLifecycle:
    """Nothing to open or release."""

    async def ping(self) -> None:
        return None

    async def probe(self) -> None:
        return None

    async def close(self) -> None:
        return None
