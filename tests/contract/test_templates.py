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
    """One name in two tenants is two templates; page lists only the caller's."""
    await templates.create("acme", ID, "welcome", "acme's", clock.now())
    await templates.create("globex", ID[:-1] + "2", "welcome", "globex's", clock.now())
    await templates.create("acme", ID[:-1] + "3", "receipt", "acme's", clock.now())
    await templates.publish("globex", "welcome")
    acme = await templates.find("acme", "welcome")
    assert acme is not None
    assert (acme.current, acme.latest.definition) == (None, "acme's")
    assert await names(templates, "acme") == ["receipt", "welcome"]
    assert await names(templates, "globex") == ["welcome"]
    assert await names(templates, "initech") == []


async def names(templates: TemplateStore, tenant: str, limit: int = 100) -> list[str]:
    """Every name of the tenant, page after page."""
    found: list[str] = []
    cursor: str | None = ""
    while cursor is not None:
        page, cursor = await templates.page(tenant, cursor, limit)
        assert page or cursor is None  # an empty page is the last
        found.extend(t.name for t in page)
    return found


async def test_pages_go_by_name_and_end_with_no_cursor(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """Pages of two list every template once, by name in byte order, the last with no
    cursor; a template added while paging behind the cursor is not seen, one ahead is."""
    for n, name in enumerate(["b", "a-2", "a", "c.1", "a_1"]):
        await templates.create("acme", ID[:-1] + str(n), name, "x", clock.now())
    first, cursor = await templates.page("acme", "", 2)
    assert [t.name for t in first] == ["a", "a-2"]
    assert cursor is not None
    await templates.create("acme", ID[:-1] + "7", "0-early", "x", clock.now())
    await templates.create("acme", ID[:-1] + "8", "d", "x", clock.now())
    second, cursor = await templates.page("acme", cursor, 2)
    assert [t.name for t in second] == ["a_1", "b"]
    assert cursor is not None
    last, cursor = await templates.page("acme", cursor, 2)
    assert ([t.name for t in last], cursor) == (["c.1", "d"], None)
    assert await names(templates, "acme", 1) == ["0-early", "a", "a-2", "a_1", "b", "c.1", "d"]


async def test_a_page_holds_versions_and_times_but_no_definition(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """Each entry has the id, the newest and published version numbers, when version 1 and
    when the newest version were stored."""
    created = clock.now()
    await templates.create("acme", ID, "welcome", "one", created)
    await templates.create("acme", ID[:-1] + "2", "receipt", "one", created)
    await templates.publish("acme", "welcome")
    clock.advance(60)
    await templates.add_version("acme", "welcome", "two", clock.now())
    page, cursor = await templates.page("acme", "", 10)
    receipt, welcome = page
    assert cursor is None
    assert (welcome.id, welcome.name, welcome.latest, welcome.current) == (ID, "welcome", 2, 1)
    assert (welcome.created_at, welcome.updated_at) == (created, created + 60)
    assert (receipt.latest, receipt.current, receipt.updated_at) == (1, None, created)


async def test_a_cursor_no_store_gave_is_a_value_error(templates: TemplateStore) -> None:
    """A cursor that is not one of the list's is refused, not read as a name."""
    for cursor in ("welcome", "!!!", "WyIxIiwiMiJd"):  # a name, not base64, two parts
        with pytest.raises(ValueError, match="cursor"):
            await templates.page("acme", cursor, 10)


async def test_a_deleted_template_leaves_the_list(
    templates: TemplateStore, clock: ManualClock
) -> None:
    """After delete the name is gone from the list; made again, it lists version 1 anew."""
    await templates.create("acme", ID, "welcome", "one", clock.now())
    await templates.add_version("acme", "welcome", "two", clock.now())
    await templates.delete("acme", "welcome")
    assert await templates.page("acme", "", 10) == ([], None)
    clock.advance(5)
    await templates.create("acme", ID[:-1] + "9", "welcome", "again", clock.now())
    (again,), _ = await templates.page("acme", "", 10)
    assert (again.id, again.latest, again.created_at) == (ID[:-1] + "9", 1, clock.now())


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
