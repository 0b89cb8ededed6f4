"""SubmitEmail.many, a batch's intake: per-item answers, idempotency, suppression and templates
as for single emails, with one read per template (memory engine, held to the same contract as
the durable ones)."""

from dataclasses import fields, replace
from typing import Any

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.errors import InvalidEmailError
from postroom.domain.message import Address, Attachment, Email
from postroom.ports.queue import PutOutcome
from postroom.ports.storage import Storage
from postroom.ports.templates import StoredTemplate, TemplateStore
from postroom.services.addresses import AddressKeys
from postroom.services.codec import decode_email
from postroom.services.content import Content, NoCipher
from postroom.services.submit import IdempotencyConflictError, SubmitEmail, Submitted, with_intake
from postroom.services.suppressions import NewSuppression, SuppressionList
from postroom.services.templates import Templates
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

TENANT = "default"
WELCOME = {
    "name": "welcome",
    "subject": "Welcome, {{ first_name }}",
    "html": "",
    "text": "Hello {{ first_name }}",
    "variables": [{"name": "first_name", "required": True}],
}


class CountingTemplates:
    """A template store that counts its reads."""

    def __init__(self, store: TemplateStore) -> None:
        self.store = store
        self.finds = 0

    async def find(self, tenant: str, name: str) -> StoredTemplate | None:
        self.finds += 1
        return await self.store.find(tenant, name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.storage: Storage = memory_storage(self.clock)
        assert self.storage.suppressions is not None
        assert self.storage.templates is not None
        self.suppressions = SuppressionList(
            self.storage.suppressions, AddressKeys(Content(NoCipher())), self.clock
        )
        self.counted = CountingTemplates(self.storage.templates)
        self.templates = Templates(self.counted, self.clock)
        self.submit = SubmitEmail(
            self.storage.queue,
            self.clock,
            parse_with_email_validator,
            suppressions=self.suppressions,
            templates=self.templates,
        )

    async def many(self, items: list[Any], key: str | None = None) -> list[Any]:
        return await self.submit.many(items, key, "owner", TENANT)

    async def stored(self, outcome: Any) -> Email:
        assert isinstance(outcome, Submitted)
        found = await self.storage.emails.content(outcome.result.id)
        assert found is not None
        return decode_email(found[1])  # (owner, payload); no cipher here


def email(n: int, **more: Any) -> dict[str, Any]:
    return {"from": "shop@example.com", "to": [f"user{n}@example.org"], "subject": "Hi", **more}


def templated(n: int, name: str, **variables: str) -> dict[str, Any]:
    return {
        "from": "shop@example.com",
        "to": [f"user{n}@example.org"],
        "template": name,
        "variables": variables,
    }


async def test_each_item_is_answered_in_order_and_invalid_ones_stop_nothing() -> None:
    """Invalid items get their errors at their place; the valid ones around them are stored."""
    world = World()
    found = await world.many([email(0), {"to": ["x@example.org"]}, email(2)])
    assert isinstance(found[0], Submitted)
    assert isinstance(found[2], Submitted)
    assert isinstance(found[1], InvalidEmailError)
    assert "from" in found[1].errors
    assert (await world.stored(found[2])).to == (Address("user2@example.org"),)
    assert (await world.stored(found[0])).tenant == TENANT


async def test_skipped_items_are_left_out() -> None:
    """An item in `skip` (over the sending limit) is answered None and not stored."""
    world = World()
    found = await world.submit.many([email(0), email(1)], None, "owner", TENANT, skip={0})
    assert found[0] is None
    assert isinstance(found[1], Submitted)
    assert (await world.storage.queue.stats()).ready == 1


async def test_a_retried_batch_answers_the_first_emails_and_a_changed_item_conflicts() -> None:
    """With a key, each item is idempotent under KEY:i: a repeat is the original email, another
    email under the same index is a conflict."""
    world = World()
    first = await world.many([email(0), email(1)], key="k")
    again = await world.many([email(0), email(9)], key="k")
    assert isinstance(again[0], Submitted)
    assert isinstance(first[0], Submitted)
    assert again[0].result.outcome is PutOutcome.DUPLICATE
    assert again[0].result.id == first[0].result.id
    assert isinstance(again[1], IdempotencyConflictError)


async def test_suppressed_recipients_are_named_for_new_emails_only() -> None:
    """A new email names its suppressed recipients; a repeat does not (its first answer did)."""
    world = World()
    await world.suppressions.add(TENANT, [NewSuppression("user1@example.org")])
    items = [email(0), email(1, cc=["user0@example.org", "user1@example.org"])]
    first = await world.many(items, key="k")
    again = await world.many(items, key="k")
    assert [f.suppressed for f in first] == [(), ("to[0]", "cc[1]")]
    assert [f.suppressed for f in again] == [(), ()]


async def test_a_templated_batch_reads_each_template_once() -> None:
    """A batch naming one template a hundred times reads it once, and renders each item."""
    world = World()
    await world.templates.create(TENANT, WELCOME)
    await world.templates.publish(TENANT, "welcome")
    before = world.counted.finds
    items = [templated(n, "welcome", first_name=f"n{n}") for n in range(100)]
    found = await world.many([*items, templated(100, "missing")])
    assert world.counted.finds - before == 2  # welcome, and missing: each once
    assert isinstance(found[-1], InvalidEmailError)
    stored = await world.stored(found[42])
    assert (stored.subject, stored.text, stored.template_version) == (
        "Welcome, n42",
        "Hello n42",
        1,
    )


async def test_a_template_refused_for_one_item_still_renders_for_the_next() -> None:
    """A missing variable fails its own item only; the template read is shared."""
    world = World()
    await world.templates.create(TENANT, WELCOME)
    await world.templates.publish(TENANT, "welcome")
    found = await world.many([templated(0, "welcome"), templated(1, "welcome", first_name="Bo")])
    assert isinstance(found[0], InvalidEmailError)
    assert "variables.first_name" in found[0].errors
    assert (await world.stored(found[1])).subject == "Welcome, Bo"


def test_the_intake_fields_are_set_as_replace_sets_them() -> None:
    """with_intake copies every other field of the email, whatever fields Email grows."""
    values: dict[str, Any] = {
        "sender": Address("a@example.org", "A"),
        "to": (Address("b@example.org"),),
        "cc": (Address("c@example.org"),),
        "bcc": (Address("d@example.org"),),
        "reply_to": (Address("e@example.org"),),
        "attachments": (Attachment("a.txt", "text/plain", b"x"),),
        "headers": (("X-A", "1"),),
        "metadata": (("k", "v"),),
        "tags": ("t",),
        "template_version": 7,
    }
    for f in fields(Email):
        values.setdefault(f.name, f"{f.name} value")
    email_ = Email(**values)
    assert with_intake(email_, "acme", ("tid", 3)) == replace(
        email_, tenant="acme", template_id="tid", template_version=3
    )
