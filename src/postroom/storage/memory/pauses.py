"""Provider pauses in this process only: for tests and `memory://` trials."""


class MemoryProviderPauses:
    def __init__(self) -> None:
        self._paused: dict[str, float] = {}

    async def paused(self) -> dict[str, float]:
        return dict(self._paused)

    async def pause(self, provider: str, at: float) -> bool:
        if provider in self._paused:
            return False
        self._paused[provider] = at
        return True

    async def resume(self, provider: str) -> bool:
        return self._paused.pop(provider, None) is not None
