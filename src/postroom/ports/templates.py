"""The template store: per tenant, per name, numbered versions (docs/templates.md).

A version is never changed once stored: an edit adds the next one as the draft, and publishing
makes the newest version the current one, the one sends render. The definition is opaque here
(JSON text the service writes and reads back).
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    version: int
    definition: str
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    id: str  # the same for every version; a template deleted and made again gets a new one
    name: str
    latest: TemplateVersion  # the newest version: the draft while it is not published
    current: TemplateVersion | None  # the published version sends use; None before a publish


class TemplateStore(Protocol):
    async def create(
        self, tenant: str, template_id: str, name: str, definition: str, now: float
    ) -> bool:
        """Store version 1 as an unpublished draft, in one write; False (nothing stored) when
        the tenant already has a template of that name."""
        ...

    async def add_version(self, tenant: str, name: str, definition: str, now: float) -> int | None:
        """Store the next version as the draft, in one write; its number, or None when the
        tenant has no template of that name. The current version stays current."""
        ...

    async def publish(self, tenant: str, name: str) -> int | None:
        """Make the newest version current; its number, or None when there is no template."""
        ...

    async def find(self, tenant: str, name: str) -> StoredTemplate | None:
        """The tenant's template of that name with its newest and current versions; one read,
        cheap enough for every templated send. Another tenant's template is never found."""
        ...

    async def names(self, tenant: str) -> list[str]:
        """Every template name of the tenant, sorted."""
        ...

    async def delete(self, tenant: str, name: str) -> bool:
        """Remove the template and all its versions; False when there was none. Stored emails
        keep what they rendered."""
        ...
