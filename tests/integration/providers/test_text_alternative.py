"""An HTML-only email gets one generated text part, the same through every provider."""

import email
import email.policy
from pathlib import Path

from postroom.clocks.system import SystemClock
from postroom.domain.message import Address, Email
from postroom.ports.provider import Provider
from postroom.ports.queue import NewEmail
from postroom.providers.outbox import OutboxProvider
from postroom.services.codec import encode_email
from postroom.services.deliver import DeliverEmail
from postroom.storage.sqlite import sqlite_storage
from tests.conftest import RunningSimulator
from tests.support.delivery import mailgun, sendgrid

HTML = (
    "<html><head><style>p { color: red }</style></head><body>"
    "<h1>Order shipped</h1><p>Track it <a href='https://shop.example/t/1'>here</a>.</p>"
    "<ul><li>1 book</li><li>2 pens</li></ul><script>track()</script></body></html>"
)


async def deliver(path: Path, email_id: str, provider: Provider) -> None:
    clock = SystemClock()
    queue = sqlite_storage(str(path), clock)
    message = Email(
        sender=Address("shop@example.com"), to=(Address("ann@example.org"),), subject="S", html=HTML
    )
    await queue.queue.put(NewEmail(email_id, encode_email(message), not_before=clock.now()))
    try:
        (lease,) = await queue.queue.lease(1, 60)
        await DeliverEmail(queue.queue, [provider], clock)(lease)
    finally:
        await provider.close()
        await queue.close()


def outbox_text(folder: Path, email_id: str) -> str:
    raw = (folder / f"{email_id}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return part.get_content().replace("\r\n", "\n").rstrip("\n")  # type: ignore[no-any-return]


async def test_same_generated_text_through_every_provider(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """Mailgun's text field, SendGrid's text/plain and the outbox's part hold the same text."""
    ids = [f"0190d5a3-0000-7000-8000-00000000000{n}" for n in range(3)]
    await deliver(tmp_path / "a.db", ids[0], mailgun(simulator.url))
    await deliver(tmp_path / "b.db", ids[1], sendgrid(simulator.url))
    await deliver(tmp_path / "c.db", ids[2], OutboxProvider(tmp_path / "outbox"))
    by_mailgun, by_sendgrid = simulator.simulator.accepted
    [mailgun_text] = by_mailgun.payload["text"]
    sendgrid_parts = {p["type"]: p["value"] for p in by_sendgrid.payload["content"]}
    assert list(sendgrid_parts) == ["text/plain", "text/html"]
    assert mailgun_text == sendgrid_parts["text/plain"] == outbox_text(tmp_path / "outbox", ids[2])
    assert "Order shipped" in mailgun_text
    assert "1 book" in mailgun_text
    assert "track()" not in mailgun_text
    assert "color" not in mailgun_text
