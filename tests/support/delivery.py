"""Building blocks for delivery tests: emails in a real SQLite queue, real providers pointed at
the simulator, and reading back what the simulator received."""

import re
from pathlib import Path
from typing import Any

from postroom.domain.ids import new_id
from postroom.domain.message import Address, Email
from postroom.ports.clock import Clock
from postroom.ports.queue import NewEmail, Queue
from postroom.providers.mailgun import MailgunProvider
from postroom.providers.sendgrid import SendgridProvider
from postroom.services.codec import encode_email
from postroom.simulator.behaviour import Accepted

_ID = re.compile(r"<([0-9a-f-]{36})@")


def email(to: str = "ann@example.org", **fields: Any) -> Email:
    sender = Address("shop@example.com", "Shop")
    return Email(sender=sender, to=(Address(to),), subject="Hi", text="Hello", **fields)


async def fill(queue: Queue, count: int, clock: Clock, message: Email | None = None) -> list[str]:
    """Store `count` emails ready now; their ids in order."""
    ids = []
    payload = encode_email(message or email())
    for n in range(count):
        email_id = new_id(int(clock.now() * 1000), n.to_bytes(10, "big"))
        await queue.put(NewEmail(email_id, payload, not_before=clock.now()))
        ids.append(email_id)
    return ids


def mailgun(url: str, timeout: float = 5.0) -> MailgunProvider:
    return MailgunProvider.from_url(
        f"mailgun://key-1@mg.example.com?base_url={url}&timeout={timeout}"
    )


def sendgrid(url: str, timeout: float = 5.0) -> SendgridProvider:
    return SendgridProvider.from_url(f"sendgrid://SG.key-1?base_url={url}&timeout={timeout}")


def email_id_of(accepted: Accepted) -> str:
    """Our email id, read back from the Message-ID the provider received."""
    payload = accepted.payload
    header = (
        payload["h:Message-Id"][0]
        if accepted.provider == "mailgun"
        else payload["headers"]["Message-ID"]
    )
    found = _ID.search(header)
    assert found, header
    return found.group(1)


def database(tmp_path: Path) -> str:
    return str(tmp_path / "delivery.db")
