"""Which template and version a stored email was rendered from, for the status API: recorded
at intake inside the sealed content, read back by Recipients.story (memory engine, content
encrypted)."""

import os
from dataclasses import replace
from typing import Any

import msgspec

from postroom.addresses.validator import parse_with_email_validator
from postroom.ciphers.aesgcm import AesGcmCipher
from postroom.domain.message import Address, Email
from postroom.ports.storage import Storage
from postroom.services.codec import decode_email, encode_email
from postroom.services.content import Content
from postroom.services.recipients import Recipients, RenderedFrom, Story
from postroom.services.submit import SubmitEmail
from postroom.services.templates import Templates
from postroom.storage.memory import memory_storage
from tests.conftest import ManualClock

TENANT = "acme"
WELCOME = {
    "name": "welcome",
    "subject": "Welcome, {{ first_name }}",
    "text": "Hello {{ first_name }}",
    "variables": [{"name": "first_name", "required": True}],
}
SENDER = {"from": "shop@example.com", "to": ["ann@example.org"]}


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.storage: Storage = memory_storage(self.clock)
        assert self.storage.templates is not None
        assert self.storage.events is not None
        cipher = AesGcmCipher([("k1", os.urandom(32))])
        self.templates = Templates(self.storage.templates, self.clock)
        self.submit = SubmitEmail(
            self.storage.queue,
            self.clock,
            parse_with_email_validator,
            cipher=cipher,
            templates=self.templates,
        )
        self.recipients = Recipients(self.storage.events, self.storage.emails, Content(cipher))

    async def story(self, data: dict[str, Any]) -> Story:
        submitted = await self.submit(data, owner="owner", tenant=TENANT)
        status = await self.storage.emails.status(submitted.result.id)
        assert status is not None
        return await self.recipients.story(status)


async def test_a_templated_email_tells_its_template_and_version() -> None:
    """The story names the template's id and the published version that was rendered."""
    world = World()
    template_id, _ = await world.templates.create(TENANT, WELCOME)
    await world.templates.publish(TENANT, "welcome")
    await world.templates.update(TENANT, "welcome", {**WELCOME, "subject": "Hi {{ first_name }}"})
    await world.templates.publish(TENANT, "welcome")
    await world.templates.update(TENANT, "welcome", {**WELCOME, "subject": "Draft"})
    story = await world.story({**SENDER, "template": "welcome", "variables": {"first_name": "A"}})
    assert story.template == RenderedFrom(template_id, 2)  # the published one, not the draft
    assert [r.address for r in story.reports] == ["ann@example.org"]


async def test_a_plain_email_tells_no_template() -> None:
    """An email sent with its own parts has no template."""
    story = await World().story({**SENDER, "subject": "Hi", "text": "Hello"})
    assert story.template is None
    assert [r.address for r in story.reports] == ["ann@example.org"]


async def test_calling_recipients_still_answers_reports_and_state() -> None:
    """The status API's current call keeps its (reports, derived state) answer."""
    world = World()
    submitted = await world.submit({**SENDER, "subject": "Hi", "text": "x"}, tenant=TENANT)
    status = await world.storage.emails.status(submitted.result.id)
    assert status is not None
    reports, derived = await world.recipients(status)
    assert ([r.address for r in reports], derived) == (["ann@example.org"], None)


def test_the_template_survives_the_codec_and_old_payloads_have_none() -> None:
    """The codec keeps both fields; a payload written before they existed decodes without."""
    email = Email(Address("shop@example.com"), (Address("ann@example.org"),), subject="Hi")
    stored = decode_email(encode_email(replace(email, template_id="t", template_version=3)))
    assert (stored.template_id, stored.template_version) == ("t", 3)
    fields = msgspec.msgpack.decode(encode_email(email))
    old = {k: v for k, v in fields.items() if k not in ("template_id", "template_version")}
    decoded = decode_email(msgspec.msgpack.encode(old))
    assert (decoded.template_id, decoded.template_version) == ("", 0)
