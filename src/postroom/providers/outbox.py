"""The development provider: each email becomes an .eml file in a folder, with its envelope.

The .eml holds exactly the bytes the SMTP provider sends (providers/mime.py) to a server that
offers 8BITMIME and SMTPUTF8: 8-bit bodies, header values as RFC 2047 encoded words and
non-ASCII file names as RFC 2231 parameters unless an address has a non-ASCII local part (then
the message is SMTPUTF8, raw UTF-8 headers). `<id>.json` beside it holds what the message
itself does not: the envelope sender, every recipient (bcc included), tags and metadata.

Both files are written aside, fsynced and renamed into place, the .json first: a reader that
waits for `<id>.eml` always finds its `<id>.json`, and never half of either.
"""

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from postroom.domain.errors import PermanentError, ProviderDownError
from postroom.domain.events import ProviderEvent, digest_of
from postroom.domain.magic import story
from postroom.logs import get_logger, log_event
from postroom.ports.provider import Outgoing, Probe, Receipt
from postroom.providers.base import BaseProvider
from postroom.providers.mime import Envelope, envelope, render, wire_bytes
from postroom.providers.urls import parse_url

log = get_logger("outbox")

# Where the outbox reports the events of magic recipients (bootstrap: the event recorder).
Report = Callable[[list[ProviderEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class OutboxFiles:
    """The pair of files one email becomes."""

    email_id: str
    envelope: bytes
    message: bytes


class OutboxProvider(BaseProvider[OutboxFiles, str]):
    name = "outbox"

    def __init__(
        self, folder: Path, clock: Callable[[], float] = time.time, name: str = "outbox"
    ) -> None:
        super().__init__(clock)
        self.name = name
        self.folder = folder
        self._report: Report | None = None

    def __repr__(self) -> str:
        return f"OutboxProvider({self.folder})"

    @classmethod
    def from_url(cls, url: str) -> "OutboxProvider":
        """`outbox://./outbox` (relative) or `outbox:///var/mail/outbox` (absolute); `?name=`
        is its only option."""
        parts = parse_url(url, "outbox", ())
        path = parts.authority + parts.path
        if not path:
            raise ValueError("outbox: expected outbox://PATH")
        return cls(Path(path), name=parts.provider_name)

    def report_to(self, report: Report) -> None:
        """Record the events magic recipients produce (domain/magic.py) through `report`."""
        self._report = report

    async def send(self, outgoing: Outgoing) -> Receipt:
        receipt = await super().send(outgoing)
        if self._report is not None:
            await self._report_events(outgoing, receipt)
        return receipt

    async def _report_events(self, outgoing: Outgoing, receipt: Receipt) -> None:
        """The email is written whatever happens here: a failure to record is logged only."""
        events = simulated_events(outgoing, receipt.message_id, self._clock())
        if not events or self._report is None:
            return
        try:
            await self._report(events)
        except Exception as error:
            log_event(
                log,
                "outbox.events_not_recorded",
                logging.WARNING,
                id=outgoing.id,
                error=type(error).__name__,
            )

    def build(self, outgoing: Outgoing, now: float) -> OutboxFiles:
        try:
            wire = envelope(outgoing.email)
            data = wire_bytes(render(outgoing, now), utf8=wire.utf8, eight_bit=True)
        except ValueError as error:  # a header the wire cannot carry
            raise PermanentError("invalid_message", type(error).__name__) from None
        return OutboxFiles(outgoing.id, envelope_json(outgoing, wire), data)

    async def transmit(self, request: OutboxFiles) -> str:
        """Write both files; the .eml's name is the answer. A failed write is the folder down."""
        try:
            await asyncio.to_thread(self._write, request)
        except OSError as error:
            raise ProviderDownError("outbox_write", type(error).__name__) from None
        return f"{request.email_id}.eml"

    def parse(self, answer: str) -> Receipt:
        return Receipt(self.name, answer)

    def _write(self, files: OutboxFiles) -> None:
        # A resend of the same id replaces both files instead of adding a second pair.
        self.folder.mkdir(parents=True, exist_ok=True)
        _put(self.folder, f"{files.email_id}.json", files.envelope)
        _put(self.folder, f"{files.email_id}.eml", files.message)

    async def probe(self) -> Probe:
        """The folder exists (or can be made) and takes a file."""
        try:
            await asyncio.to_thread(self._try_write)
        except OSError as error:
            cause = error.strerror or type(error).__name__
            return Probe(False, "down", f"outbox_write: {self.folder}: {cause}")
        return Probe(True)

    def _try_write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        check = self.folder / f".probe-{os.getpid()}.tmp"
        check.write_bytes(b"")
        check.unlink()


def envelope_json(outgoing: Outgoing, wire: Envelope) -> bytes:
    """The envelope file: what receivers see only from the SMTP transaction, and ours."""
    email = outgoing.email
    body = {
        "id": outgoing.id,
        "messageId": outgoing.message_id,
        "sender": wire.sender,
        "recipients": list(wire.recipients),
        "bcc": [wire.recipients[len(email.to) + len(email.cc) + n] for n in range(len(email.bcc))],
        "tags": list(email.tags),
        "metadata": dict(email.metadata),
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode() + b"\n"


def _put(folder: Path, name: str, data: bytes) -> None:
    """Write aside, fsync, rename: the file appears whole or not at all."""
    temporary = folder / f".{name}.tmp"
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, folder / name)


def simulated_events(outgoing: Outgoing, message_id: str, now: float) -> list[ProviderEvent]:
    """What a provider would report for the email's magic recipients, a millisecond apart."""
    events = []
    for index, address in enumerate(outgoing.email.recipients()):
        for step, simulated in enumerate(story(address.email) or ()):
            key = f"outbox:{outgoing.id}:{index}:{step}"
            events.append(
                ProviderEvent(
                    type=simulated.type,
                    recipient=address.email,
                    provider_message_id=message_id,
                    correlation_id=outgoing.id,
                    event_id=key,
                    digest=digest_of(key.encode()),
                    timestamp=now + 0.001 * step,
                    reject_reason=simulated.reject_reason,
                    bounce=simulated.bounce,
                    description=simulated.description,
                )
            )
    return events
