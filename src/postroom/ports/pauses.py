"""The provider pauses port: providers an operator paused, shared by every process of a store."""

from typing import Protocol


class ProviderPauses(Protocol):
    """Pauses by provider name (as in metrics: `mailgun`, `smtp-1`). A paused provider is sent
    nothing by any worker reading this store until it is resumed; nothing else changes."""

    async def paused(self) -> dict[str, float]:
        """Every paused provider's name and when it was paused (seconds since the epoch)."""
        ...

    async def pause(self, provider: str, at: float) -> bool:
        """Pause the provider; False when it was paused already (its time is kept). Durable
        before it returns, and seen by every later `paused` of any process on this store."""
        ...

    async def resume(self, provider: str) -> bool:
        """Resume the provider; False when it was not paused. Durable before it returns."""
        ...
