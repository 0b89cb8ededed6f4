"""SubmitEmail fills what the list of emails is searched by (ports/queue.py NewEmail): the
tenant, each tag's and each recipient's keyed hash, once each, single and in a batch;
the suppression lookup is answered the same with the keys it is handed."""

from typing import Any

from postroom.addresses.validator import parse_with_email_validator
from postroom.domain.ids import is_id
from postroom.ports.emails import EmailFilter
from postroom.ports.storage import Storage
from postroom.services.addresses import AddressKeys
from postroom.services.content import Content, NoCipher
from postroom.services.submit import SubmitEmail, Submitted
from postroom.services.suppressions import NewSuppression, SuppressionList
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

KEYS = AddressKeys(Content(NoCipher()), b"test secret")
EMAIL = {
    "from": "shop@example.com",
    "to": ["Ann <Ann@Example.org>"],
    "cc": ["bob@example.org"],
    "bcc": ["ann@example.org"],
    "subject": "Hi",
    "tags": ["invoice", "eu"],
}


def world() -> tuple[Storage, SubmitEmail]:
    clock = ManualClock()
    storage = memory_storage(clock)
    assert storage.suppressions is not None
    suppressions = SuppressionList(storage.suppressions, KEYS, clock)
    submit = SubmitEmail(
        storage.queue,
        clock,
        parse_with_email_validator,
        suppressions=suppressions,
        addresses=KEYS,
    )
    return storage, submit


async def found(storage: Storage, tenant: str, **filters: Any) -> list[str]:
    return [e.id for e in await storage.emails.page(tenant, EmailFilter(**filters), None, 10)]


async def test_one_email_is_found_by_tenant_tag_and_each_recipient() -> None:
    """The tenant's email is found by each tag and by each recipient's key, an address given
    twice (to and bcc, in two cases) keyed once."""
    storage, submit = world()
    submitted = await submit(EMAIL, None, "k1", "acme")
    email_id = submitted.result.id
    new, _ = await submit.prepare(EMAIL, None, "k1", "acme", 0.0)
    assert new.recipient_keys == (KEYS.key("ann@example.org"), KEYS.key("bob@example.org"))
    # The tags as keyed hashes: a tag may name a person, so it is stored only as its key.
    assert (new.tenant, new.tags) == ("acme", (KEYS.tag_key("invoice"), KEYS.tag_key("eu")))
    assert "invoice" not in KEYS.tag_key("invoice")
    assert await found(storage, "acme", tag=KEYS.tag_key("eu")) == [email_id]
    assert await found(storage, "acme", recipient_key=KEYS.key("ANN@example.org")) == [email_id]
    assert await found(storage, "acme", recipient_key=KEYS.key("bob@example.org")) == [email_id]
    assert await found(storage, "default") == []


async def test_a_prepared_email_has_each_field_where_its_name_says() -> None:
    """Intake builds NewEmail positionally: every field holds what its name says, scheduled
    and idempotent included, whatever order the fields are declared in."""
    _, submit = world()
    later = {**EMAIL, "sendAt": 100.0}
    new, _ = await submit.prepare(later, "idem-1", "k1", "acme", 10.0)
    assert (new.not_before, new.scheduled, new.owner, new.tenant) == (100.0, True, "k1", "acme")
    assert is_id(new.id)
    assert type(new.payload) is bytes
    assert len(str(new.idempotency_key)) == len(new.fingerprint) * 2 == 64
    assert new.tags == (KEYS.tag_key("invoice"), KEYS.tag_key("eu"))
    assert new.recipient_keys == (KEYS.key("ann@example.org"), KEYS.key("bob@example.org"))
    now, _ = await submit.prepare(EMAIL, None, "k2", "other", 10.0)
    assert (now.not_before, now.scheduled, now.idempotency_key, now.fingerprint) == (
        10.0,
        False,
        None,
        b"",
    )
    assert (now.owner, now.tenant) == ("k2", "other")


async def test_a_batch_keys_each_of_its_emails() -> None:
    """`many` stores each item's tenant, tags and recipient keys as a single submit does."""
    storage, submit = world()
    items = [EMAIL, {**EMAIL, "to": ["carol@example.org"], "cc": [], "bcc": [], "tags": []}]
    outcomes = await submit.many(items, None, "k1", "acme")
    first, second = (o.result.id for o in outcomes if isinstance(o, Submitted))
    assert await found(storage, "acme", recipient_key=KEYS.key("carol@example.org")) == [second]
    assert await found(storage, "acme", tag=KEYS.tag_key("invoice")) == [first]


async def test_the_suppression_lookup_still_names_the_blocked_recipients() -> None:
    """With the recipient keys handed over (no address twice) or made again (one twice), a
    suppressed recipient is named as before."""
    storage, submit = world()
    assert storage.suppressions is not None
    suppressions = SuppressionList(storage.suppressions, KEYS, ManualClock())
    await suppressions.add("acme", [NewSuppression("bob@example.org")])
    distinct = {**EMAIL, "bcc": []}
    assert (await submit(distinct, None, "k1", "acme")).suppressed == ("cc[0]",)
    assert (await submit(EMAIL, None, "k1", "acme")).suppressed == ("cc[0]",)


async def test_a_batch_names_blocked_recipients_with_the_keys_it_made() -> None:
    """In a batch, each address is keyed once however many items repeat it, and the lookup is
    answered with those keys: each item names its own blocked recipients."""
    storage, submit = world()
    assert storage.suppressions is not None
    suppressions = SuppressionList(storage.suppressions, KEYS, ManualClock())
    await suppressions.add("acme", [NewSuppression("bob@example.org")])
    items = [EMAIL, {**EMAIL, "cc": [], "bcc": ["Bob@Example.org"]}, {**EMAIL, "cc": []}]
    outcomes = await submit.many(items, None, "k1", "acme")
    assert [o.suppressed for o in outcomes if isinstance(o, Submitted)] == [
        ("cc[0]",),
        ("bcc[0]",),
        (),
    ]
    first, second, _ = (o.result.id for o in outcomes if isinstance(o, Submitted))
    bob = await found(storage, "acme", recipient_key=KEYS.key("bob@example.org"))
    assert sorted(bob) == sorted([first, second])
