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


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """A template as a list shows it: its versions' numbers and times, no definition."""

    id: str
    name: str
    latest: int  # the newest version's number
    current: int | None  # the published version's number; None before a publish
    created_at: float  # when version 1 was stored
    updated_at: float  # when the newest version was stored


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

    async def page(
        self, tenant: str, after: str, limit: int
    ) -> tuple[list[TemplateSummary], str | None]:
        """Up to `limit` of the tenant's templates by name (byte order), after the cursor
        `after` ("" for the first page), in one read; the cursor of the next page, None at the
        end. ValueError for a cursor no store gave."""
        ...

    async def delete(self, tenant: str, name: str) -> bool:
        """Remove the template and all its versions; False when there was none. Stored emails
        keep what they rendered."""
        ...
