"""The TemplateStore port (ports/templates.py), the same for every store engine."""

import pytest

from postroom.ports.storage import Storage
from postroom.ports.templates import TemplateStore
from tests.conftest import ManualClock

ID = "01900001-0000-7000-8000-000000000001"


@pytest.fixture
def templates(store: Storage) -> TemplateStore:
    assert store.templates is not None
    return store.templates


async def test_a_new_template_is_an_unpublished_first_version(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """create stores version 1 as the draft, with nothing current yet."""
    assert await templates.create("acme", ID, "welcome", '{"v": 1}', clock.now())
    found = await templates.find("acme", "welcome")
    assert found is not None
    assert (found.id, found.name, found.latest.version) == (ID, "welcome", 1)
    assert found.latest.definition == '{"v": 1}'
    assert found.latest.created_at == clock.now()
    assert found.current is None


async def test_a_taken_name_is_refused_and_nothing_changes(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """A second create with the same name answers False and keeps the first."""
    await templates.create("acme", ID, "welcome", "first", clock.now())
    assert not await templates.create("acme", ID[:-1] + "2", "welcome", "second", clock.now())
    found = await templates.find("acme", "welcome")
    assert found is not None
    assert (found.id, found.latest.definition) == (ID, "first")


async def test_edits_are_drafts_until_published(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """add_version adds the next draft; publish makes the newest current; a later draft leaves
    the published version current."""
    await templates.create("acme", ID, "welcome", "one", clock.now())
    assert await templates.add_version("acme", "welcome", "two", clock.now()) == 2
    assert await templates.publish("acme", "welcome") == 2
    clock.advance(5)
    assert await templates.add_version("acme", "welcome", "three", clock.now()) == 3
    found = await templates.find("acme", "welcome")
    assert found is not None
    assert found.current is not None
    assert (found.latest.version, found.latest.definition) == (3, "three")
    assert (found.current.version, found.current.definition) == (2, "two")
    assert found.latest.created_at == found.current.created_at + 5


async def test_missing_templates_change_nothing(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """Every call on a name the tenant lacks answers None or False."""
    assert await templates.add_version("acme", "nope", "x", clock.now()) is None
    assert await templates.publish("acme", "nope") is None
    assert await templates.find("acme", "nope") is None
    assert not await templates.delete("acme", "nope")


async def test_tenants_never_see_each_others_templates(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """One name in two tenants is two templates; names lists only the caller's."""
    await templates.create("acme", ID, "welcome", "acme's", clock.now())
    await templates.create("globex", ID[:-1] + "2", "welcome", "globex's", clock.now())
    await templates.create("acme", ID[:-1] + "3", "receipt", "acme's", clock.now())
    await templates.publish("globex", "welcome")
    acme = await templates.find("acme", "welcome")
    assert acme is not None
    assert (acme.current, acme.latest.definition) == (None, "acme's")
    assert await templates.names("acme") == ["receipt", "welcome"]
    assert await templates.names("globex") == ["welcome"]
    assert await templates.names("initech") == []


async def test_delete_removes_every_version_and_frees_the_name(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """After delete the template is gone, and the name can be made again from version 1."""
    await templates.create("acme", ID, "welcome", "one", clock.now())
    await templates.add_version("acme", "welcome", "two", clock.now())
    await templates.publish("acme", "welcome")
    assert await templates.delete("acme", "welcome")
    assert await templates.find("acme", "welcome") is None
    assert await templates.create("acme", ID[:-1] + "9", "welcome", "again", clock.now())
    found = await templates.find("acme", "welcome")
    assert found is not None
    assert (found.latest.version, found.latest.definition, found.current) == (1, "again", None)
